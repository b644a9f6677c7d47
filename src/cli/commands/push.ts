// `lodger push`: Push an image to a registry.
import { Command, Option } from 'clipanion';
import { RegistryCommand } from '../registryCommand';

export class PushCommand extends RegistryCommand {
  static override paths = [['push'], ['image', 'push']];
  static override usage = Command.Usage({ description: 'Push an image to a registry', examples: [['Tag and push', 'lodger tag busybox 127.0.0.1:5000/me/busybox && lodger push 127.0.0.1:5000/me/busybox']] });
  quiet = Option.Boolean('-q,--quiet', false);
  image = Option.String({ required: true });
  destination = Option.String({ required: false });
  async run(): Promise<number> {
    const { pushImage } = await import('../../image/push');
    const r = await pushImage(await this.store(), this.image, this.destination, this.pullOptions());
    if (!this.quiet) for (const [d, how] of Object.entries(r.blobs)) this.context.stderr.write(`${how === 'uploaded' ? 'Copying' : how === 'mounted' ? 'Mounted' : 'Exists '} blob ${d.slice(7, 19)}\n`);
    this.context.stdout.write(`${r.reference}@${r.digest}\n`);
    return 0;
  }
}
