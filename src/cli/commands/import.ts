// `lodger import`: make an image from a root filesystem tarball.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class ImportCommand extends LodgerCommand {
  static override paths = [['import'], ['image', 'import']];
  static override usage = Command.Usage({
    description: 'Create an image from a root filesystem tarball (plain, gzip or zstd)',
    examples: [['Import a busybox tree', 'lodger import busybox.tar.gz busybox:latest'], ['With a default command', `lodger import -c 'CMD ["/bin/sh"]' rootfs.tar mybase`]],
  });
  change = Option.Array('-c,--change', [], { description: 'Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE)' });
  file = Option.String({ required: true });
  name = Option.String({ required: true });

  async run(): Promise<number> {
    const { importRootfsTar } = await import('../../image/importTar');
    const img = await importRootfsTar(await this.store(), this.file, this.name, this.change);
    this.context.stdout.write(`${img.id}\n`);
    return 0;
  }
}
