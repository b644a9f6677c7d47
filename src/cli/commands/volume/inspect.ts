// `lodger volume inspect`: Show volumes as Docker's Volume objects (JSON), or through a Go template.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class VolumeInspectCommand extends LodgerCommand {
  static override paths = [['volume', 'inspect']];
  static override usage = Command.Usage({ description: 'Show details of volumes', examples: [['Where the files are', "lodger volume inspect -f '{{.Mountpoint}}' data"]] });
  format = Option.String('-f,--format', { description: 'Go template' });
  volumes = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { inspectVolume } = await import('../../../volumes/volumes');
    const p = await this.store();
    const docs: unknown[] = [];
    let code = 0;
    for (const n of this.volumes) {
      try { docs.push(inspectVolume(p, n)); } catch (e) {
        const { LodgerError } = await import('../../../errors');
        if (!(e instanceof LodgerError)) throw e;
        this.context.stderr.write(`lodger: ${e.message}\n`);
        code = 1;
      }
    }
    if (this.format && this.format !== 'json') {
      const { renderTemplate } = await import('../../template');
      for (const d of docs) this.context.stdout.write(renderTemplate(this.format, d) + '\n');
    } else this.context.stdout.write(JSON.stringify(docs, null, 4) + '\n');
    return code;
  }
}
