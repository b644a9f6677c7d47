// `lodger kill`: Send a signal (default SIGKILL) to containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class KillCommand extends LodgerCommand {
  static override paths = [['kill'], ['container', 'kill']];
  static override usage = Command.Usage({ description: 'Send a signal (default SIGKILL) to containers' });
  signal = Option.String('-s,--signal', 'SIGKILL', { description: 'Signal name or number' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { killContainer } = await import('../../containers/lifecycle');
    const p = await this.store();
    return this.eachContainer(this.containers, (id) => killContainer(p, id, this.signal));
  }
}
