// `lodger volume ls`: List volumes, with Docker's filters and --format.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class VolumeLsCommand extends LodgerCommand {
  static override paths = [['volume', 'ls'], ['volume', 'list']];
  static override usage = Command.Usage({
    description: 'List volumes',
    examples: [['Unused ones', 'lodger volume ls --filter dangling=true'], ['Names only', 'lodger volume ls -q'], ['A template', "lodger volume ls --format '{{.Name}} {{.Mountpoint}}'"]],
  });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only names' });
  filter = Option.Array('-f,--filter', [], { description: 'name=, label=K[=V], label!=K[=V], dangling=true|false, driver=' });
  format = Option.String('--format', { description: 'table (default), json, or a Go template' });
  async run(): Promise<number> {
    const { listVolumes, parseVolumeFilters } = await import('../../../volumes/volumes');
    const vols = listVolumes(await this.store(), parseVolumeFilters(this.filter));
    const out = this.context.stdout;
    if (this.quiet) { out.write(vols.map((v) => v.Name + '\n').join('')); return 0; }
    const f = this.format;
    if (f === 'json') { for (const v of vols) out.write(JSON.stringify(lsRow(v)) + '\n'); return 0; }
    if (f && f !== 'table') {
      const { renderTemplate } = await import('../../template');
      const t = f.startsWith('table ') ? f.slice(6) : f;
      for (const v of vols) out.write(renderTemplate(t, lsRow(v)) + '\n');
      return 0;
    }
    const { table } = await import('../../format');
    out.write(table([['DRIVER', 'VOLUME NAME'], ...vols.map((v) => [v.Driver, v.Name])]));
    return 0;
  }
}

/** The fields `docker volume ls --format` offers (.Name, .Driver, .Scope, .Mountpoint, .Labels as "k=v,…", .Label "k"), plus the Volume's own. */
function lsRow(v: import('../../../volumes/volumes').Volume) {
  return { ...v, Labels: Object.entries(v.Labels).map(([k, x]) => `${k}=${x}`).join(','), Size: 'N/A', Availability: 'N/A', Group: 'N/A', Status: 'N/A' };
}
