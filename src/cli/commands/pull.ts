// `lodger pull`: Pull an image from a registry.
import { Command, Option } from 'clipanion';
import { RegistryCommand } from '../registryCommand';

export class PullCommand extends RegistryCommand {
  static override paths = [['pull'], ['image', 'pull']];
  static override usage = Command.Usage({ description: 'Pull an image from a registry', examples: [['From a local registry', 'lodger pull 127.0.0.1:5000/debian:bookworm']] });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Print only the image id' });
  platform = Option.String('--platform', { description: 'os/arch[/variant] (default this machine)' });
  image = Option.String({ required: true });
  async run(): Promise<number> {
    const { pullImage } = await import('../../image/pull');
    const { progressReporter } = await import('../progress');
    const progress = this.quiet ? undefined : progressReporter(this.context.stderr as NodeJS.WriteStream);
    const report = this.reporter((e) => progress?.update(e.id, e.current, e.total, e.phase));
    const img = await pullImage(await this.store(), this.image, { ...this.pullOptions(), platform: this.platform, report });
    progress?.finish();
    this.context.stdout.write(`${this.quiet ? img.id : img.id}\n`);
    return 0;
  }
}
