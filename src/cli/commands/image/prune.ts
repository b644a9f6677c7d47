// `lodger image prune`: Remove unused images.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class ImagePruneCommand extends LodgerCommand {
  static override paths = [['image', 'prune']];
  static override usage = Command.Usage({
    description: 'Remove unused images',
    details: 'Removes images that have no name and no container, or with -a every image no container uses, and the layers only they held. Asks first when stdin is a terminal; -f skips the question.',
    examples: [['Dangling images', 'lodger image prune -f'], ['Every unused image', 'lodger image prune -a -f']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'Remove all unused images, not just dangling ones' });
  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });
  filter = Option.Array('--filter', [], { description: 'Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")' });

  async run(): Promise<number> {
    const { parsePruneFilters } = await import('../../../storage/pruneFilters');
    const { pruneImages } = await import('../../../image/prune');
    const filters = parsePruneFilters(this.filter);
    if (!this.force) {
      const { confirm } = await import('../../confirm');
      const warning = this.all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
      if (!(await confirm(warning, this.context.stdin, this.context.stderr))) return 0;
    }
    const r = await pruneImages(await this.store(), this.all, filters);
    const { humanSize } = await import('../../format');
    const { familiarName } = await import('../../../storage/images');
    if (r.untagged.length || r.deleted.length) {
      const lines = [...r.untagged.map((n) => `untagged: ${familiarName(n)}`), ...r.deleted.map((d) => `deleted: ${d}`)];
      this.context.stdout.write(`Deleted Images:\n${lines.map((l) => l + '\n').join('')}\n`);
    }
    this.context.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    for (const e of r.errors) this.context.stderr.write(`lodger: ${e}\n`);
    return r.errors.length ? 1 : 0;
  }
}
