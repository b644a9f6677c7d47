// `lodger volume prune`: Remove unused volumes — anonymous ones, or every unused one with -a (Docker ≥ 23).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class VolumePruneCommand extends LodgerCommand {
  static override paths = [['volume', 'prune']];
  static override usage = Command.Usage({
    description: 'Remove unused volumes',
    details: 'As Docker 23 and later: only anonymous volumes unless -a. Asks first when stdin is a terminal; -f skips the question.',
    examples: [['Every unused volume, without asking', 'lodger volume prune -af']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'Named volumes too' });
  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });
  filter = Option.Array('--filter', [], { description: 'label=K[=V], label!=K[=V], all=true' });
  async run(): Promise<number> {
    const { parseVolumeFilters, pruneVolumes } = await import('../../../volumes/volumes');
    const filters = parseVolumeFilters(this.filter);
    if (!this.force) {
      const { confirm } = await import('../../confirm');
      const what = this.all ? 'all local volumes not used by at least one container' : 'all anonymous local volumes not used by at least one container';
      if (!(await confirm(`WARNING! This will remove ${what}.`, this.context.stdin, this.context.stderr))) return 0;
    }
    const r = await pruneVolumes(await this.store(), { all: this.all, filters });
    const { humanSize } = await import('../../format');
    if (r.VolumesDeleted.length) this.context.stdout.write(`Deleted Volumes:\n${r.VolumesDeleted.map((n) => n + '\n').join('')}\n`);
    this.context.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    return 0;
  }
}
