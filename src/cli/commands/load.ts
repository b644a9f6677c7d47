// `lodger load`: load images from a docker-archive or OCI archive file (or stdin).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class LoadCommand extends LodgerCommand {
  static override paths = [['load'], ['image', 'load']];
  static override usage = Command.Usage({ description: 'Load images from a tar archive written by docker save, podman save or as an OCI archive', examples: [['From a file', 'lodger load -i busybox.tar']] });
  input = Option.String('-i,--input', { description: 'Archive to read (default stdin)' });
  quiet = Option.Boolean('-q,--quiet', false);

  async run(): Promise<number> {
    const { loadArchive, loadArchiveStream } = await import('../../image/loadArchive');
    const p = await this.store();
    const images = this.input ? await loadArchive(p, this.input) : await loadArchiveStream(p, this.context.stdin);
    const { familiarName } = await import('../../storage/images');
    for (const i of images) {
      if (i.names.length === 0) this.context.stdout.write(`Loaded image ID: ${i.id}\n`);
      for (const n of i.names) this.context.stdout.write(`Loaded image: ${familiarName(n)}\n`);
    }
    return 0;
  }
}
