// `lodger images`: list the images in the store.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { humanAge, humanSize, shortId, table } from '../format';

export class ImagesCommand extends LodgerCommand {
  static override paths = [['images'], ['image', 'ls'], ['image', 'list']];
  static override usage = Command.Usage({ description: 'List images', examples: [['As JSON', 'lodger images --format json']] });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only image ids' });
  format = Option.String('--format', { description: 'table (default) or json' });
  noTrunc = Option.Boolean('--no-trunc', false);

  async run(): Promise<number> {
    const { listImages } = await import('../../image/list');
    const images = listImages(await this.store());
    const anyReadOnly = images.some((i) => i.readOnlyStore);
    if (this.quiet) {
      this.context.stdout.write([...new Set(images.map((i) => (this.noTrunc ? i.id : shortId(i.id))))].map((l) => l + '\n').join(''));
      return 0;
    }
    if (this.format === 'json') {
      const out = images.map((i) => ({ Id: i.id, Names: i.names, RepoTags: i.names, RepoDigests: i.repoDigests ?? [], Digest: i.manifestDigest, Created: i.created, Size: i.size, Layers: i.layers, ReadOnly: !!i.readOnlyStore, ...(i.readOnlyStore ? { Store: i.readOnlyStore } : {}) }));
      this.context.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return 0;
    }
    // R/O (podman's name) only when an additional read-only store has images: the usual table is unchanged.
    const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', ...(anyReadOnly ? ['R/O'] : [])]];
    for (const i of images) {
      const names = i.names.length ? i.names : ['<none>:<none>'];
      for (const n of names) {
        const colon = n.lastIndexOf(':');
        const repo = colon > n.lastIndexOf('/') ? n.slice(0, colon) : n;
        const tag = colon > n.lastIndexOf('/') ? n.slice(colon + 1) : '<none>';
        rows.push([repo, tag, this.noTrunc ? i.id : shortId(i.id), `${humanAge(i.created)} ago`, humanSize(i.size), ...(anyReadOnly ? [i.readOnlyStore ? 'true' : 'false'] : [])]);
      }
    }
    this.context.stdout.write(table(rows));
    return 0;
  }
}
