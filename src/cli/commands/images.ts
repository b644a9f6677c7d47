// `lodger images`: list the images in the store.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { humanAge, humanSize, shortId } from '../format';
import { goTime, renderFormatted, type ListFormat } from '../formatted';

/** Docker's `images` fields and headers (docs.docker.com/reference/cli/docker/image/ls/#format); ReadOnly is podman's R/O. */
const FIELDS: ListFormat['fields'] = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'SIZE', Containers: 'CONTAINERS', ReadOnly: 'R/O',
};

export class ImagesCommand extends LodgerCommand {
  static override paths = [['images'], ['image', 'ls'], ['image', 'list']];
  static override usage = Command.Usage({
    description: 'List images',
    details: 'One row per name (repository and tag); an image without a name shows as <none>. FORMAT is `table` (the default), `table TEMPLATE`, `json` (one object per line) or a Go template over ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size, SharedSize, UniqueSize, VirtualSize, Containers, ReadOnly. Filters: dangling=true|false, reference=PATTERN (a glob over repository or repository:tag), label=KEY[=VALUE], before=IMAGE, since=IMAGE. lodger keeps no intermediate images, so -a lists the same images.',
    examples: [['Names only', "lodger images --format '{{.Repository}}:{{.Tag}}'"], ['Untagged images', 'lodger images --filter dangling=true'], ['As JSON lines', 'lodger images --format json']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'Show all images (lodger has no intermediate images to hide)' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only image ids' });
  digests = Option.Boolean('--digests', false, { description: 'Show digests' });
  format = Option.String('--format', { description: 'table (default), table TEMPLATE, json, or a Go template' });
  filter = Option.Array('-f,--filter', [], { description: 'Filter: dangling=, reference=, label=, before=, since=' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Full image ids' });
  reference = Option.String({ required: false, name: 'REPOSITORY[:TAG]' });

  async run(): Promise<number> {
    const { listImages } = await import('../../image/list');
    const { containerEntries } = await import('../../storage/containers');
    const p = await this.store();
    const images = listImages(p, { filters: [...this.filter, ...(this.reference ? [`reference=${this.reference}`] : [])] });
    if (this.quiet) {
      this.context.stdout.write([...new Set(images.map((i) => (this.noTrunc ? i.id : shortId(i.id))))].map((l) => l + '\n').join(''));
      return 0;
    }
    const users = new Map<string, number>();
    for (const c of containerEntries(p)) users.set(c.rec.ImageID, (users.get(c.rec.ImageID) ?? 0) + 1);
    const rows: Array<Record<string, string>> = [];
    for (const i of images) {
      for (const n of i.names.length ? i.names : ['<none>:<none>']) {
        const colon = n.lastIndexOf(':');
        const tagged = colon > n.lastIndexOf('/');
        const repo = tagged ? n.slice(0, colon) : n;
        const digest = (i.repoDigests ?? []).find((d) => d.startsWith(`${repo}@`))?.slice(repo.length + 1) ?? '<none>';
        rows.push({
          ID: this.noTrunc ? i.id : shortId(i.id), Repository: repo, Tag: tagged ? n.slice(colon + 1) : '<none>', Digest: digest,
          CreatedSince: `${humanAge(i.created)} ago`, CreatedAt: goTime(i.created), Size: humanSize(i.size),
          // Layers are shared between images; `lodger system df -v` splits the sizes.
          SharedSize: 'N/A', UniqueSize: 'N/A', VirtualSize: humanSize(i.size), Containers: String(users.get(i.id) ?? 0),
          ReadOnly: String(!!i.readOnlyStore),
        });
      }
    }
    // R/O (podman's name) only when an additional read-only store has images: the usual table is unchanged.
    const ro = images.some((i) => i.readOnlyStore) ? '\t{{.ReadOnly}}' : '';
    const defaultTable = `table {{.Repository}}\t{{.Tag}}${this.digests ? '\t{{.Digest}}' : ''}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}${ro}`;
    this.context.stdout.write(renderFormatted(rows, this.format, { fields: FIELDS, defaultTable }));
    return 0;
  }
}
