// `lodger system df`: show the store's disk usage.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';
import { humanAge, humanSize, shortId, statusText, table } from '../../format';

export class SystemDfCommand extends LodgerCommand {
  static override paths = [['system', 'df']];
  static override usage = Command.Usage({
    description: 'Show disk usage of images, containers and layers',
    details: 'SIZE of images counts each layer once, however many images share it; RECLAIMABLE is what removing unused images (`lodger image prune -a`) or stopped containers (`lodger container prune`) would free. Layers are stored unpacked, once per diff_id; -v lists each.',
    examples: [['Summary', 'lodger system df'], ['Every image, container and layer', 'lodger system df -v']],
  });
  verbose = Option.Boolean('-v,--verbose', false, { description: 'Show detailed information on space usage' });
  format = Option.String('--format', { description: 'table (default), table TEMPLATE, json (one object per line), or a Go template over Type, TotalCount, Active, Size, Reclaimable' });

  async run(): Promise<number> {
    const { diskUsage } = await import('../../../system/systemDf');
    const r = await diskUsage(await this.store());
    const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
    const rows = r.summary.map((s) => ({ ...s, TotalCount: String(s.TotalCount), Active: String(s.Active), Size: humanSize(s.Size), Reclaimable: `${humanSize(s.Reclaimable)}${pct(s.Reclaimable, s.Size)}` }));
    if (this.format || !this.verbose) {
      // Docker's `system df` fields and headers (docs.docker.com/reference/cli/docker/system/df/#format).
      const fields = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
      const { renderFormatted } = await import('../../formatted');
      this.context.stdout.write(renderFormatted(rows, this.format, { fields, defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' }));
      return 0;
    }
    const out = this.context.stdout;
    out.write('Images space usage:\n\n');
    const img = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS']];
    for (const i of r.images) {
      for (const n of i.names.length ? i.names : ['<none>:<none>']) {
        const colon = n.lastIndexOf(':');
        const tagged = colon > n.lastIndexOf('/');
        img.push([tagged ? n.slice(0, colon) : n, tagged ? n.slice(colon + 1) : '<none>', shortId(i.id), `${humanAge(i.created)} ago`, humanSize(i.size), humanSize(i.sharedSize), humanSize(i.uniqueSize), String(i.containers)]);
      }
    }
    out.write(table(img));
    out.write('\nContainers space usage:\n\n');
    const ctr = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES']];
    for (const c of r.containers) ctr.push([c.id.slice(0, 12), c.image, JSON.stringify(c.command.length > 20 ? c.command.slice(0, 19) + '…' : c.command), '0', humanSize(c.size), `${humanAge(c.created)} ago`, statusText(c.state), c.name]);
    out.write(table(ctr));
    out.write('\nLayers space usage:\n\n');
    const lay = [['LAYER ID', 'SIZE', 'IMAGES', 'CONTAINERS']];
    for (const l of r.layers) lay.push([shortId(l.diffId), humanSize(l.size), String(l.images), String(l.containers)]);
    out.write(table(lay));
    out.write('\nLocal Volumes space usage:\n\n');
    out.write(table([['VOLUME NAME', 'LINKS', 'SIZE'], ...r.volumes.map((v) => [v.name, String(v.links), humanSize(v.size)])]));
    return 0;
  }
}
