// `lodger rm`: remove containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class RmCommand extends LodgerCommand {
  static override paths = [['rm'], ['container', 'rm']];
  static override usage = Command.Usage({ description: 'Remove one or more containers', examples: [['Force-remove a running one', 'lodger rm -f web']] });
  force = Option.Boolean('-f,--force', false, { description: 'Kill a running container first' });
  volumes = Option.Boolean('-v,--volumes', false, { description: 'Remove the anonymous volumes of the container' });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const { resolveContainer } = await import('../../storage/containers');
    const { removeContainer } = await import('../../containers/remove');
    const p = await this.store();
    return this.eachRef(this.containers, async (ref) => {
      await removeContainer(p, resolveContainer(p, ref), this.force, { volumes: this.volumes });
      return ref;
    }, 1);
  }
}
