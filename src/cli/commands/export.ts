// `lodger export`: write a container's filesystem as a tar archive.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class ExportCommand extends LodgerCommand {
  static override paths = [['export'], ['container', 'export']];
  static override usage = Command.Usage({
    description: "Export a container's filesystem as a tar archive",
    details: "The archive holds the container's root filesystem — its image layers with its own changes on top — but not the contents of volumes or of /proc, /sys and /dev. It can be turned back into an image with `lodger import`.",
    examples: [['Export to a file', 'lodger export -o web.tar web'], ['Pipe it', 'lodger export web | tar -t']],
  });
  output = Option.String('-o,--output', { description: 'Write to a file, instead of STDOUT' });
  container = Option.String({ required: true, name: 'CONTAINER' });

  async run(): Promise<number> {
    const { exportContainer } = await import('../../containers/exportFs');
    const r = await exportContainer(await this.store(), this.container, this.output, this.context.stdout);
    for (const n of r.notes) this.context.stderr.write(`lodger: note: ${n}\n`);
    return 0;
  }
}
