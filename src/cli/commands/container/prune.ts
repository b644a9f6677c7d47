// `lodger container prune`: Remove all stopped containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class ContainerPruneCommand extends LodgerCommand {
  static override paths = [['container', 'prune']];
  static override usage = Command.Usage({
    description: 'Remove all stopped containers',
    details: 'Asks first when stdin is a terminal; -f skips the question.',
    examples: [['Without asking', 'lodger container prune -f'], ['Only old ones', 'lodger container prune -f --filter until=24h']],
  });
  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });
  filter = Option.Array('--filter', [], { description: 'Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")' });

  async run(): Promise<number> {
    const [{ parsePruneFilters }, { pruneContainers }] = await Promise.all([import('../../../storage/pruneFilters'), import('../../../containers/prune')]);
    const filters = parsePruneFilters(this.filter);
    if (!this.force) {
      const { confirm } = await import('../../confirm');
      if (!(await confirm('WARNING! This will remove all stopped containers.', this.context.stdin, this.context.stderr))) return 0;
    }
    const r = await pruneContainers(await this.store(), filters);
    const { humanSize } = await import('../../format');
    if (r.deleted.length) this.context.stdout.write(`Deleted Containers:\n${r.deleted.map((id) => id + '\n').join('')}\n`);
    this.context.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    for (const e of r.errors) this.context.stderr.write(`lodger: ${e}\n`);
    return r.errors.length ? 1 : 0;
  }
}
