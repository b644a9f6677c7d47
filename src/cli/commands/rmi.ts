// `lodger rmi`: remove images.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class RmiCommand extends LodgerCommand {
  static override paths = [['rmi'], ['image', 'rm']];
  static override usage = Command.Usage({ description: 'Remove one or more images', examples: [['Remove busybox', 'lodger rmi busybox']] });
  force = Option.Boolean('-f,--force', false, { description: 'Remove even if containers use it' });
  images = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const { removeImage } = await import('../../image/remove');
    const p = await this.store();
    let code = 0;
    for (const ref of this.images) {
      try {
        const r = await removeImage(p, ref, this.force);
        for (const u of r.untagged) this.context.stdout.write(`Untagged: ${u}\n`);
        for (const d of r.deleted) this.context.stdout.write(`Deleted: ${d}\n`);
      } catch (e) {
        const { LodgerError } = await import('../../errors');
        if (!(e instanceof LodgerError)) throw e;
        this.context.stderr.write(`lodger: ${e.message}\n`);
        code = 1;
      }
    }
    return code;
  }
}
