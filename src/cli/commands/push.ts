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
    const SAID: Record<string, string> = { pushed: 'Copying', mounted: 'Mounted', exists: 'Exists ' };
    const report = this.reporter((e) => {
      if (!this.quiet && SAID[e.phase]) this.context.stderr.write(`${SAID[e.phase]} blob ${e.id.slice(7, 19)}\n`);
    });
    const r = await pushImage(await this.store(), this.image, this.destination, { ...this.pullOptions(), report });
    this.context.stdout.write(`${r.reference}@${r.digest}\n`);
    return 0;
  }
}
