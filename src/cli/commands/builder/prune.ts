// `lodger builder prune`: removes the build cache, and the layers only it held.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class BuilderPruneCommand extends LodgerCommand {
  static override paths = [['builder', 'prune']];
  static override usage = Command.Usage({
    description: 'Remove build cache',
    details: 'Removes the cache entries of earlier builds whose layers no image uses (with -a, every entry), the layers and blobs nothing else uses, and the RUN --mount=type=cache directories (with -a).',
    examples: [['Remove all build cache', 'lodger builder prune -a -f']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'Remove all build cache, also entries whose layers images use, and cache mounts' });
  force = Option.Boolean('-f,--force', false, { description: 'Do not ask for confirmation' });

  async run(): Promise<number> {
    const { pruneBuildCache } = await import('../../../build/prune');
    const r = await pruneBuildCache(await this.store(), { all: this.all });
    this.context.stdout.write(`Deleted build cache entries: ${r.entries}\nDeleted layers: ${r.layers}\nTotal reclaimed space: ${r.reclaimed} B\n`);
    return 0;
  }
}
