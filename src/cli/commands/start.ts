// `lodger start`: Start stopped containers (in the background, unless -a).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class StartCommand extends LodgerCommand {
  static override paths = [['start'], ['container', 'start']];
  static override usage = Command.Usage({ description: 'Start stopped containers (in the background, unless -a)' });
  attach = Option.Boolean('-a,--attach', false, { description: 'Attach to the output and wait for the exit' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Attach stdin' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { startExisting } = await import('../../containers/startExisting');
    if (this.attach || this.interactive) {
      const { resolveContainer } = await import('../../storage/containers');
      const p = await this.store();
      return startExisting(p, resolveContainer(p, this.containers[0]), this.terminalIO(), this.interactive);
    }
    return this.eachContainer(this.containers, async (id) => { await startExisting(await this.store(), id, undefined); });
  }
}
