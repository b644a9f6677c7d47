// `lodger rm`: remove containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class RmCommand extends LodgerCommand {
  static override paths = [['rm'], ['container', 'rm']];
  static override usage = Command.Usage({ description: 'Remove one or more containers', examples: [['Force-remove a running one', 'lodger rm -f web']] });
  force = Option.Boolean('-f,--force', false, { description: 'Kill a running container first' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const { resolveContainer } = await import('../../storage/containers');
    const { removeContainer } = await import('../../runtime/remove');
    const p = await this.store();
    let code = 0;
    for (const ref of this.containers) {
      try {
        const id = resolveContainer(p, ref);
        await removeContainer(p, id, this.force);
        this.context.stdout.write(`${ref}\n`);
      } catch (e) {
        const { LodgerError } = await import('../../errors');
        if (!(e instanceof LodgerError)) throw e;
        this.context.stderr.write(`lodger: ${e.message}\n`);
        code = 1;
      }
    }
    return code;
  }
}
