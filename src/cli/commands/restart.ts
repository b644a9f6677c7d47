// `lodger restart`: Stop then start containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class RestartCommand extends LodgerCommand {
  static override paths = [['restart'], ['container', 'restart']];
  static override usage = Command.Usage({ description: 'Stop then start containers' });
  time = Option.String('-t,--time', { description: 'Seconds to wait before SIGKILL (default 10)' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { stopContainer } = await import('../../containers/lifecycle');
    const { startExisting } = await import('../../containers/startExisting');
    const p = await this.store();
    return this.eachContainer(this.containers, async (id) => {
      await stopContainer(p, id, this.time === undefined ? undefined : Number(this.time));
      await startExisting(p, id, undefined);
    });
  }
}
