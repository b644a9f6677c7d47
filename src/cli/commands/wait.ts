// `lodger wait`: Block until containers stop, then print their exit codes.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class WaitCommand extends LodgerCommand {
  static override paths = [['wait'], ['container', 'wait']];
  static override usage = Command.Usage({ description: 'Block until containers stop, then print their exit codes' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { waitContainer } = await import('../../containers/lifecycle');
    const { resolveContainer } = await import('../../storage/containers');
    const p = await this.store();
    for (const ref of this.containers) this.context.stdout.write(`${await waitContainer(p, resolveContainer(p, ref))}\n`);
    return 0;
  }
}
