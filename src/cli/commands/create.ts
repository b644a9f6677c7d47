// `lodger create`: Create a container without starting it.
import { Command } from 'clipanion';
import { ContainerOptionsCommand } from '../containerOptions';

export class CreateCommand extends ContainerOptionsCommand {
  static override paths = [['create'], ['container', 'create']];
  static override usage = Command.Usage({ description: 'Create a container without starting it', examples: [['Create, then start', 'lodger create --name web busybox httpd -f && lodger start web']] });
  async run(): Promise<number> {
    const { createContainer } = await import('../../containers/create');
    const { callerMapping } = await import('../../helper/usernsWorker');
    const { warnMapping } = await import('../../containers/run');
    const o = this.createOptions();
    const mapping = callerMapping(o.userns);
    warnMapping(mapping, this.reporter());
    const p = await this.store();
    // As `docker create`: a missing image is pulled, and --platform fetches the platform asked for.
    const { ensureRunImage } = await import('../../containers/runImage');
    await ensureRunImage(p, o, this.reporter());
    const { rec } = await createContainer(p, o, mapping);
    this.context.stdout.write(rec.Id + '\n');
    return 0;
  }
}
