// `lodger tag`: Give an image another name.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class TagCommand extends LodgerCommand {
  static override paths = [['tag'], ['image', 'tag']];
  static override usage = Command.Usage({ description: 'Give an image another name' });
  source = Option.String({ required: true });
  targets = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { findImage, addImage, qualifyLocalName } = await import('../../storage/images');
    const { parseReference, formatReference, isShortName } = await import('../../image/reference');
    const { LodgerError } = await import('../../errors');
    const p = await this.store();
    const img = findImage(p, this.source);
    if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `tag: no such image ${this.source}`);
    // A name without a registry stays local (localhost/…), as import and load name them; one with a
    // registry is normalised as push will use it.
    const names = this.targets.map((t) => {
      if (isShortName(t)) return qualifyLocalName(t);
      const r = parseReference(t);
      return formatReference({ ...r, tag: r.tag ?? 'latest' });
    });
    await addImage(p, { ...img, names });
    return 0;
  }
}
