// `lodger tag`: Give an image another name.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class TagCommand extends LodgerCommand {
  static override paths = [['tag'], ['image', 'tag']];
  static override usage = Command.Usage({ description: 'Give an image another name' });
  source = Option.String({ required: true });
  targets = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { tagImage } = await import('../../image/list');
    await tagImage(await this.store(), this.source, this.targets);
    return 0;
  }
}
