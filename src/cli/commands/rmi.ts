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
    return this.eachRef(this.images, async (ref) => {
      const r = await removeImage(p, ref, this.force);
      return [...r.untagged.map((u) => `Untagged: ${u}`), ...r.deleted.map((d) => `Deleted: ${d}`)];
    }, 1);
  }
}
