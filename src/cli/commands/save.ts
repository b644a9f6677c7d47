// `lodger save`: write images to a docker-archive or OCI archive, or one image to a squashfs file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class SaveCommand extends LodgerCommand {
  static override paths = [['save'], ['image', 'save']];
  static override usage = Command.Usage({
    description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    details: 'docker-archive (the default) is what `docker save` writes and `docker load`, `podman load` and `lodger load` read; oci-archive is a tar of an OCI image layout. Layers keep the blobs the images were pulled or loaded with. squashfs writes one image as a single squashfs file: its flattened root filesystem, owners as the container sees them, with the image config as /.lodger/config.json — `lodger run FILE.sqfs` runs it without unpacking (needs squashfs-tools and squashfuse).',
    examples: [['Save to a file', 'lodger save -o busybox.tar busybox'], ['As an OCI archive', 'lodger save --format oci-archive -o img.tar busybox:latest'], ['As one squashfs file, then run it', 'lodger save --format squashfs -o debian.sqfs debian:bookworm && lodger run --rm ./debian.sqfs cat /etc/os-release']],
  });
  output = Option.String('-o,--output', { description: 'Write to a file, instead of STDOUT' });
  format = Option.String('--format', 'docker-archive', { description: 'docker-archive (default), oci-archive or squashfs' });
  images = Option.Rest({ required: 1, name: 'IMAGE' });

  async run(): Promise<number> {
    const { saveImages } = await import('../../image/save');
    const { LodgerError } = await import('../../errors');
    const p = await this.store();
    if (this.format === 'squashfs') {
      // mksquashfs writes a file it seeks in: no stream to stdout; and a file is one root filesystem.
      if (!this.output) throw new LodgerError('SAVE_SQUASHFS', 'save --format squashfs writes a file: give -o FILE');
      if (this.images.length !== 1) throw new LodgerError('SAVE_SQUASHFS', `save --format squashfs: a squashfs file holds one image, ${this.images.length} were given — save them one at a time`);
      const { saveSquashfs } = await import('../../image/saveSquashfs');
      await saveSquashfs(p, this.images[0], path.resolve(this.output));
      return 0;
    }
    const format = this.format as import('../../image/save').SaveFormat;
    if (!this.output) {
      if ((this.context.stdout as { isTTY?: boolean }).isTTY) throw new LodgerError('SAVE_TTY', 'refusing to write a tar archive to a terminal — use -o FILE or redirect the output');
      await saveImages(p, this.images, format, this.context.stdout);
      return 0;
    }
    // Written beside the target and renamed into place: a failed save leaves no half archive behind.
    const target = path.resolve(this.output);
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
    try {
      await saveImages(p, this.images, format, fs.createWriteStream(tmp, { mode: 0o644 }));
      fs.renameSync(tmp, target);
    } catch (e) {
      const { fsError } = await import('../../errors');
      throw (e as NodeJS.ErrnoException).syscall ? fsError('save: write', target, e, 'give a file in a writable directory') : e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return 0;
  }
}
