// The image half of the API's backend: the store's index, the registry client and the image domain code.
import { inspectImage } from '../../containers/inspect';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LodgerError } from '../../errors';
import { familiarName, findImage, imageConfig, readIndex, readOnlyImages, type ImageRecord } from '../../storage/images';
import type { StorePaths } from '../../storage/paths';
import type { Filters, PullProgress } from '../backend';
import { badRequest } from '../httpError';

type Obj = Record<string, unknown>;

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000) || 0;

/** Docker's image ids are the config digest; its short form in progress lines is 12 hex digits. */
const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

export class ImageEngine {
  constructor(readonly p: StorePaths) {}

  private all(): ImageRecord[] {
    const own = readIndex(this.p);
    const ids = new Set(own.map((i) => i.id));
    return [...own, ...readOnlyImages(this.p).filter((i) => !ids.has(i.id))];
  }

  private find(name: string): ImageRecord {
    const img = findImage(this.p, name) ?? this.all().find((i) => i.id === name || i.id.replace(/^sha256:/, '').startsWith(name.replace(/^sha256:/, '')));
    if (!img || name.length < 3) throw new LodgerError('IMAGE_NOT_FOUND', `No such image: ${name}`);
    return img;
  }

  list(o: { all: boolean; filters: Filters }): Obj[] {
    for (const k of o.filters.keys()) if (!['reference', 'label', 'dangling', 'before', 'since'].includes(k)) throw badRequest(`invalid filter '${k}'`);
    const out: Obj[] = [];
    for (const img of this.all().sort((a, b) => b.created.localeCompare(a.created))) {
      const cfg = (() => { try { return imageConfig(this.p, img); } catch { return undefined; } })();
      const labels = cfg?.config?.Labels ?? {};
      const tags = img.names.map(familiarName);
      const refs = o.filters.get('reference') ?? [];
      if (refs.length && !refs.some((r) => tags.some((t) => t === r || t.split(':')[0] === r || globMatch(r, t)))) continue;
      const want = o.filters.get('label') ?? [];
      if (!want.every((l) => { const i = l.indexOf('='); return i < 0 ? Object.hasOwn(labels, l) : labels[l.slice(0, i)] === l.slice(i + 1); })) continue;
      const dangling = o.filters.get('dangling');
      if (dangling?.length && (dangling[0] === 'true') !== (img.names.length === 0)) continue;
      out.push({
        Id: img.id, ParentId: '', RepoTags: tags, RepoDigests: img.repoDigests ?? [], Created: seconds(cfg?.created ?? img.created),
        Size: img.size, SharedSize: -1, VirtualSize: img.size, Labels: labels, Containers: -1,
      });
    }
    return out;
  }

  inspect(name: string): Obj {
    const img = this.find(name);
    const doc = inspectImage(this.p, img);
    const cfg = imageConfig(this.p, img);
    return {
      ...doc, RepoTags: img.names.map(familiarName), Parent: '', Comment: '', Container: '', DockerVersion: '',
      ContainerConfig: cfg.config ?? {}, VirtualSize: img.size, GraphDriver: { Name: 'overlay', Data: {} },
      Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    };
  }

  history(name: string): Obj[] {
    const img = this.find(name);
    const cfg = imageConfig(this.p, img);
    const hist = [...(cfg.history ?? [])].reverse();
    return hist.map((h, i) => ({
      Id: i === 0 ? img.id : '<missing>', Created: seconds(h.created ?? ''), CreatedBy: h.created_by ?? '', Tags: i === 0 ? img.names.map(familiarName) : null,
      Size: 0, Comment: h.comment ?? '',
    }));
  }

  /**
   * Pulls REF, reporting Docker's progress lines: "Pulling from", one line per layer as its bytes
   * arrive, "Digest:", "Status:". X-Registry-Auth credentials take the place of the auth file.
   */
  async pull(ref: string, o: { platform?: string; auth?: { username?: string; password?: string } }, progress: (p: PullProgress) => void): Promise<void> {
    const { pullImage } = await import('../../image/pull');
    const { parseReference, familiarString } = await import('../../image/reference');
    let shown: string;
    try { shown = familiarString(parseReference(ref)); } catch { throw badRequest(`invalid reference format: ${ref}`); }
    const tag = shown.includes('@') ? shown.split('@')[1] : shown.split(':').pop();
    progress({ status: `Pulling from ${shown.replace(/[:@][^:/@]*$/, '')}`, id: tag });
    const last = new Map<string, string>();
    const creds = o.auth?.username ? `${o.auth.username}:${o.auth.password ?? ''}` : undefined;
    const before = findImage(this.p, ref)?.id;
    const img = await pullImage(this.p, ref, {
      platform: o.platform, creds,
      report: (e) => {
        if (e.kind !== 'layer') return;
        const id = short(e.id);
        const status = e.phase === 'exists' ? 'Already exists' : e.phase === 'done' ? 'Pull complete' : e.phase === 'waiting' ? 'Waiting' : 'Downloading';
        if (status !== 'Downloading' && last.get(id) === status) return;
        last.set(id, status);
        progress({ status, id, ...(status === 'Downloading' ? { progressDetail: { current: e.current, total: e.total } } : { progressDetail: {} }) });
      },
    });
    if (img.manifestDigest) progress({ status: `Digest: ${img.manifestDigest}` });
    progress({ status: before === img.id ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
  }

  async push(ref: string, o: { auth?: { username?: string; password?: string } }, progress: (p: PullProgress) => void): Promise<{ digest: string }> {
    const { pushImage } = await import('../../image/push');
    this.find(ref);
    const creds = o.auth?.username ? `${o.auth.username}:${o.auth.password ?? ''}` : undefined;
    progress({ status: `The push refers to repository [${ref.replace(/:[^:/]*$/, '')}]` });
    const r = await pushImage(this.p, ref, undefined, { creds });
    for (const [digest, how] of Object.entries(r.blobs)) progress({ status: how === 'uploaded' ? 'Pushed' : how === 'mounted' ? 'Mounted from another repository' : 'Layer already exists', id: short(digest), progressDetail: {} });
    progress({ status: `${ref.split(':').pop()}: digest: ${r.digest}` });
    return { digest: r.digest };
  }

  /** Docker's tag: a name without a registry stays local (localhost/…), as `lodger tag` names it. */
  async tag(name: string, repo: string, tag: string): Promise<void> {
    const img = this.find(name);
    const { addImage, qualifyLocalName } = await import('../../storage/images');
    const { parseReference, formatReference, isShortName } = await import('../../image/reference');
    if (!repo) throw badRequest('repository name must be given (repo=)');
    const target = `${repo}:${tag || 'latest'}`;
    let full: string;
    try {
      full = isShortName(target) ? qualifyLocalName(target) : formatReference({ ...parseReference(target), tag: tag || 'latest' });
    } catch (e) { throw badRequest(`invalid tag ${target}: ${(e as Error).message}`); }
    await addImage(this.p, { ...img, names: [full] });
  }

  async remove(name: string, force: boolean): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    this.find(name);
    const { removeImage } = await import('../../image/remove');
    const r = await removeImage(this.p, name, force);
    return [...r.untagged.map((u) => ({ Untagged: familiarName(u) })), ...r.deleted.map((d) => ({ Deleted: d }))];
  }

  async prune(all: boolean, filters: Filters): Promise<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }>; SpaceReclaimed: number }> {
    const { pruneImages } = await import('../../image/prune');
    const { parsePruneFilters } = await import('../../storage/pruneFilters');
    const list = [...filters].filter(([k]) => k !== 'dangling').flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
    const dangling = filters.get('dangling')?.[0];
    const r = await pruneImages(this.p, all || dangling === 'false', parsePruneFilters(list));
    return { ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))], SpaceReclaimed: r.reclaimed };
  }

  async save(names: string[], out: NodeJS.WritableStream): Promise<void> {
    for (const n of names) this.find(n);
    const { saveImages } = await import('../../image/save');
    await saveImages(this.p, names, 'docker-archive', out as import('node:stream').Writable);
  }
}

/** docker load: the body staged in the store's tmp, then loaded as `lodger load -i` loads a file. */
export async function loadFromBody(p: StorePaths, body: NodeJS.ReadableStream): Promise<string[]> {
  const { ensureStore } = await import('../../storage/paths');
  const { loadArchive } = await import('../../image/loadArchive');
  ensureStore(p);
  const file = path.join(p.tmp, `api-load-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
  try {
    await pipeline(body, fs.createWriteStream(file, { mode: 0o600 }));
    const imgs = await loadArchive(p, file);
    return imgs.flatMap((i) => (i.names.length ? i.names.map(familiarName) : [i.id]));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** POST /auth: the credentials tried against the registry, as `lodger login` tries them, without storing them. */
export async function checkRegistryAuth(registry: string, username: string, password: string): Promise<void> {
  const { loginRegistry } = await import('../../image/registry/login');
  const { RegistryClient } = await import('../../image/registry/client');
  const reg = loginRegistry(registry || 'docker.io');
  const client = new RegistryClient(reg, 'lodger-login-check', { credentials: { username, password } });
  try {
    await client.checkAuth(`login ${reg}`);
  } catch (e) {
    if (e instanceof LodgerError && (e.code === 'AUTH_FAILED' || e.code === 'AUTH_REQUIRED')) throw new (await import('../httpError')).ApiError(401, `login ${reg}: unauthorized: incorrect username or password`);
    throw e;
  }
}

/** Docker's reference filter takes shell globs (path.Match): * and ? within a name. */
function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '(:.*)?$');
  return re.test(s);
}
