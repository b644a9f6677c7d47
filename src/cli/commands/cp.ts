// `lodger cp`: copy files between a container (running or stopped) and the host.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class CpCommand extends LodgerCommand {
  static override paths = [['cp'], ['container', 'cp']];
  static override usage = Command.Usage({
    description: 'Copy files/folders between a container and the local filesystem',
    details: `
      Either SRC or DEST is CONTAINER:PATH; a container path is taken from the container's "/", and its symlinks resolve inside the container. A directory is copied recursively. SRC ending in "/." copies a directory's contents. DEST "-" writes a tar archive of SRC to stdout.

      Ownership: files copied into a container belong to its root, and files copied out belong to you, unless -a keeps the source's owners (copied out, an owner such as the container's uid 1000 becomes the host id it maps to).
    `,
    examples: [
      ['Copy a file out of a container', 'lodger cp web:/etc/nginx/nginx.conf .'],
      ['Copy a directory into a container', 'lodger cp ./site web:/usr/share/nginx/html'],
      ['Archive a directory to stdout', 'lodger cp web:/var/log - > logs.tar'],
    ],
  });
  archive = Option.Boolean('-a,--archive', false, { description: 'Archive mode (copy all uid/gid information)' });
  followLink = Option.Boolean('-L,--follow-link', false, { description: 'Always follow symbol link in SRC_PATH' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Suppress progress output (the default without a terminal)' });
  src = Option.String({ required: true, name: 'SRC' });
  dest = Option.String({ required: true, name: 'DEST' });

  async run(): Promise<number> {
    const { copyFiles } = await import('../../containers/copy');
    const r = await copyFiles(await this.store(), this.src, this.dest, { archive: this.archive, follow: this.followLink }, this.context.stdout);
    for (const n of r.notes) this.context.stderr.write(`lodger: note: ${n}\n`);
    if (!this.quiet && r.dest !== '-' && (this.context.stderr as { isTTY?: boolean }).isTTY) {
      const { humanSize } = await import('../format');
      this.context.stderr.write(`Successfully copied ${humanSize(r.bytes)} to ${r.dest}\n`);
    }
    return 0;
  }
}
