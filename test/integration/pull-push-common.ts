// Shared by the pull-push*.test.ts files (issue 3): the whiteout fixture image, a private rootless podman, tar listings to compare root filesystems, a fault-injecting proxy in front of a registry, and looks at the store from outside.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll, afterEach, expect } from 'vitest';
import { makeStore, removeTree, requireTool, runLodgerOk, type LodgerResult, type Store } from '../helpers/cli';
import { imageDocs, type ImageDoc } from '../helpers/images';
import { runCommand, type CommandResult } from '../helpers/exec';
import { buildOciLayout, type BuiltImage, type Compression, type TarFileSpec } from '../helpers/fixtures';

// ---------------------------------------------------------------------------------------------------
// The whiteout image: busybox (gzip), then a zstd layer of assorted files, then an uncompressed layer
// that deletes, makes opaque, replaces and adds. WHITEOUT_VIEW is what its merged root must show.

const L2: TarFileSpec[] = [
  { path: 'data', type: 'dir' },
  { path: 'data/keep.txt', type: 'file', content: 'keep\n' },
  { path: 'data/gone.txt', type: 'file', content: 'gone\n' },
  { path: 'data/sub', type: 'dir' },
  { path: 'data/sub/old.txt', type: 'file', content: 'old\n' },
  { path: 'data/nobody.txt', type: 'file', content: 'nobody\n', uid: 65534, gid: 65534, mode: 0o600 },
  { path: 'opq', type: 'dir', mode: 0o750 },
  { path: 'opq/a', type: 'file', content: 'a\n' },
  { path: 'opq/nested', type: 'dir' },
  { path: 'opq/nested/c', type: 'file', content: 'c\n' },
  { path: 'gone', type: 'dir' },
  { path: 'gone/deep', type: 'dir' },
  { path: 'gone/deep/x', type: 'file', content: 'x\n' },
  { path: 'hard', type: 'dir' },
  { path: 'hard/a', type: 'file', content: 'shared\n' },
  { path: 'hard/b', type: 'link', target: 'hard/a' },
  { path: 'links', type: 'dir' },
  { path: 'links/rel', type: 'symlink', target: '../data/keep.txt' },
  { path: 'links/abs', type: 'symlink', target: '/data/keep.txt' },
  { path: 'links/odd', type: 'symlink', target: '..//data/./keep.txt' },
  { path: 'links/dangling', type: 'symlink', target: '/nonexistent/target' },
  { path: 'usr/local', type: 'dir' },
  { path: 'usr/local/bin', type: 'dir' },
  { path: 'usr/local/bin/suid', type: 'file', content: '#!/bin/sh\necho suid\n', mode: 0o4755 },
  { path: 'usr/local/bin/sgid', type: 'file', content: '#!/bin/sh\necho sgid\n', mode: 0o2711 },
  { path: 'sticky', type: 'dir', mode: 0o1777 },
  { path: 'home/u1000', type: 'dir', uid: 1000, gid: 1000, mode: 0o755 },
  { path: 'home/u1000/file', type: 'file', content: 'mine\n', uid: 1000, gid: 1000, mode: 0o640 },
];

const L3: TarFileSpec[] = [
  { path: 'data/gone.txt', type: 'whiteout' },
  { path: 'gone', type: 'whiteout' },
  { path: 'bin/vi', type: 'whiteout' },
  { path: 'opq', type: 'dir', mode: 0o750 },
  { path: 'opq', type: 'opaque' },
  { path: 'opq/new', type: 'file', content: 'new\n' },
  { path: 'data/added.txt', type: 'file', content: 'added\n', uid: 1000, gid: 100 },
  // A directory of a lower layer replaced by a file.
  { path: 'data/sub', type: 'file', content: 'now a file\n' },
  { path: 'hard/c', type: 'file', content: 'pair\n', mode: 0o600 },
  // A link's header carries its target's metadata, as tar writers put it (see LINK_HEADER_LAYER for one that does not).
  { path: 'hard/d', type: 'link', target: 'hard/c', mode: 0o600 },
];

/**
 * A hard link whose own header says another owner and mode than its target's entry. docker, podman and
 * containerd apply the link's header to the shared inode (moby pkg/archive createTarFile: Lchown and
 * chmod after link(2)), so both names end up 0755 owned by 1000:1000.
 */
export const LINK_HEADER_LAYER: TarFileSpec[] = [
  { path: 'odd', type: 'dir' },
  { path: 'odd/file', type: 'file', content: 'odd\n', mode: 0o600 },
  { path: 'odd/link', type: 'link', target: 'odd/file', mode: 0o755, uid: 1000, gid: 1000 },
];

/** The uid 1000 file of layer 2: on disk it belongs to the host id container uid 1000 maps to. */
export const U1000_FILE = 'home/u1000/file';

/**
 * `find` of the fixture's own paths inside a container: one line per entry, "path|type|mode|uid:gid|nlink",
 * then "-> target" for symlinks and the content for regular files.
 */
export const VIEW_SCRIPT =
  'cd / && find data opq hard links usr/local/bin/suid usr/local/bin/sgid sticky home/u1000 | sort | while read -r p; do ' +
  'l="$(stat -c "%n|%F|%a|%u:%g|%h" "$p")"; ' +
  'if [ -L "$p" ]; then l="$l -> $(readlink "$p")"; elif [ -f "$p" ]; then l="$l = $(cat "$p" | tr "\\n" "~")"; fi; ' +
  'echo "$l"; done; ' +
  'for p in gone data/gone.txt bin/vi data/sub/old.txt opq/a opq/nested; do if [ -e "$p" ] || [ -L "$p" ]; then echo "PRESENT $p"; fi; done; ' +
  'if [ "$(stat -c %i hard/a)" = "$(stat -c %i hard/b)" ]; then echo "hard/a==hard/b"; fi; ' +
  'if [ "$(stat -c %i hard/c)" = "$(stat -c %i hard/d)" ]; then echo "hard/c==hard/d"; fi; ' +
  'test -e bin/sh && echo "bin/sh ok"';

/** What VIEW_SCRIPT prints for the whiteout image. */
export const WHITEOUT_VIEW = [
  'data|directory|755|0:0|2',
  'data/added.txt|regular file|644|1000:100|1 = added~',
  'data/keep.txt|regular file|644|0:0|1 = keep~',
  'data/nobody.txt|regular file|600|65534:65534|1 = nobody~',
  'data/sub|regular file|644|0:0|1 = now a file~',
  'hard|directory|755|0:0|2',
  'hard/a|regular file|644|0:0|2 = shared~',
  'hard/b|regular file|644|0:0|2 = shared~',
  'hard/c|regular file|600|0:0|2 = pair~',
  'hard/d|regular file|600|0:0|2 = pair~',
  'home/u1000|directory|755|1000:1000|2',
  'home/u1000/file|regular file|640|1000:1000|1 = mine~',
  'links|directory|755|0:0|2',
  'links/abs|symbolic link|777|0:0|1 -> /data/keep.txt',
  'links/dangling|symbolic link|777|0:0|1 -> /nonexistent/target',
  'links/odd|symbolic link|777|0:0|1 -> ..//data/./keep.txt',
  'links/rel|symbolic link|777|0:0|1 -> ../data/keep.txt',
  'opq|directory|750|0:0|2',
  'opq/new|regular file|644|0:0|1 = new~',
  'sticky|directory|1777|0:0|2',
  'usr/local/bin/sgid|regular file|2711|0:0|1 = #!/bin/sh~echo sgid~',
  'usr/local/bin/suid|regular file|4755|0:0|1 = #!/bin/sh~echo suid~',
  'hard/a==hard/b',
  'hard/c==hard/d',
  'bin/sh ok',
];

/**
 * Normalises VIEW_SCRIPT output: a directory's link count depends on the filesystem (overlay and
 * fuse-overlayfs report 1 or the real count), so directories' nlink is not compared.
 */
export function normaliseView(out: string): string[] {
  return out.split('\n').filter(Boolean).map((l) => l.replace(/^([^|]+\|directory\|[^|]+\|[^|]+)\|\d+$/, '$1|2'));
}

/** Builds the whiteout image (tag "v1") into DIR from the busybox rootfs tar. */
export async function buildWhiteoutImage(dir: string, busyboxTar: string, tag = 'v1', compressions: [Compression, Compression, Compression] = ['gzip', 'zstd', 'none']): Promise<BuiltImage> {
  return buildOciLayout(dir, {
    tag,
    layers: [
      { tarFile: busyboxTar, compression: compressions[0] },
      { files: L2, compression: compressions[1] },
      { files: L3, compression: compressions[2] },
    ],
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: { 'org.lodger.test': 'whiteouts' } },
  });
}

/** A busybox image with one extra small layer saying WHAT (shares the busybox layer with the whiteout image). */
export async function buildTaggedBusybox(dir: string, busyboxTar: string, tag: string, what: string): Promise<BuiltImage> {
  return buildOciLayout(dir, {
    tag,
    layers: [{ tarFile: busyboxTar, compression: 'gzip' }, { files: [{ path: 'etc/what', type: 'file', content: `${what}\n` }] }],
    config: { Cmd: ['cat', '/etc/what'] },
  });
}

/** A big image: LAYERS layers of MB megabytes of incompressible data each (stored gzip), on top of busybox. */
export async function buildBigImage(dir: string, busyboxTar: string, layers: number, mb: number): Promise<BuiltImage & { fileSha256: string[] }> {
  const specs = [];
  const fileSha256: string[] = [];
  for (let i = 0; i < layers; i++) {
    // Deterministic pseudo-random bytes: the same image (and digests) every run.
    const buf = Buffer.alloc(mb << 20);
    let h = createHash('sha256').update(`big-${i}`).digest();
    for (let off = 0; off < buf.length; off += 32) {
      h.copy(buf, off);
      h = createHash('sha256').update(h).digest();
    }
    fileSha256.push(createHash('sha256').update(buf).digest('hex'));
    specs.push({ files: [{ path: `big${i}.bin`, type: 'file' as const, content: buf }] });
  }
  const img = await buildOciLayout(dir, { tag: 'big', layers: [{ tarFile: busyboxTar, compression: 'gzip' }, ...specs], compression: 'gzip', config: { Cmd: ['sh'] } });
  return { ...img, fileSha256 };
}

// ---------------------------------------------------------------------------------------------------
// Lodger helpers.

/** Every image: `lodger images -q` then `image inspect` (test/helpers/images.ts). */
export async function imagesJson(store: Store): Promise<ImageDoc[]> {
  return imageDocs({ store });
}

/** `lodger image inspect REF`, parsed (the first document). */
export async function inspectImage(store: Store, ref: string): Promise<Record<string, any>> {
  const r = await runLodgerOk(['image', 'inspect', ref], { store });
  return (JSON.parse(r.stdout) as Record<string, any>[])[0];
}

/** Expects a lodger failure: status 125 and stderr matching every pattern. */
export function expectFailure(r: LodgerResult, ...patterns: RegExp[]): void {
  expect(r.code, `expected 125\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`).toBe(125);
  for (const p of patterns) expect(r.stderr).toMatch(p);
}

/** Directory names under the store's layers/: complete layers (layer.json present), incomplete ones, and staging leftovers. */
export function layerDirs(store: Store): { complete: string[]; incomplete: string[]; staging: string[] } {
  const dir = path.join(store.root, 'layers');
  const out = { complete: [] as string[], incomplete: [] as string[], staging: [] as string[] };
  let names: string[] = [];
  try { names = fs.readdirSync(dir); } catch { return out; }
  for (const n of names) {
    if (/^[0-9a-f]{64}$/.test(n)) (fs.existsSync(path.join(dir, n, 'layer.json')) ? out.complete : out.incomplete).push(`sha256:${n}`);
    else out.staging.push(n);
  }
  return out;
}

/** Files under the store's blobs directory that are not complete content-addressed blobs (temp files). */
export function blobLeftovers(store: Store): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let ents: fs.Dirent[] = [];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (!/^[0-9a-f]{64}$/.test(e.name)) out.push(path.join(d, e.name));
    }
  };
  walk(path.join(store.root, 'blobs'));
  return out;
}

/** Every complete blob in the store hashes to its name. */
export function expectBlobsIntact(store: Store): void {
  const walk = (d: string): void => {
    let ents: fs.Dirent[] = [];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (/^[0-9a-f]{64}$/.test(e.name)) expect(createHash('sha256').update(fs.readFileSync(f)).digest('hex'), f).toBe(e.name);
    }
  };
  walk(path.join(store.root, 'blobs'));
}

// ---------------------------------------------------------------------------------------------------
// Rootless podman with a private store, for comparing against and for interop.

export interface Podman {
  dir: string;
  run(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>;
  /** Runs podman and returns stdout; throws with the output unless it exits 0. */
  ok(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<string>;
  cleanup(): Promise<void>;
}

export function podmanPrereqs(): boolean {
  return requireTool('podman') && requireTool('skopeo');
}

/**
 * A podman with its own --root, --runroot, tmpdir and XDG dirs under a temp directory (nothing shared with
 * the test user's own podman). cleanup() ends its pause process (by the pid it recorded) and removes it all.
 */
export function makePodman(): Podman {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-podman-'));
  for (const d of ['xdg', 'cfg', 'tmp']) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'xdg'), XDG_CONFIG_HOME: path.join(dir, 'cfg') };
  delete env.REGISTRY_AUTH_FILE;
  delete env.CONTAINERS_CONF;
  delete env.CONTAINERS_STORAGE_CONF;
  const global = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'overlay',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--tmpdir', path.join(dir, 'tmp')];
  const run = (args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}) =>
    runCommand('podman', [...global, ...args], { env, input: opts.input, timeoutMs: opts.timeoutMs ?? 240_000 });
  return {
    dir,
    run,
    async ok(args, opts) {
      const r = await run(args, opts);
      if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`);
      return r.stdout;
    },
    async cleanup() {
      // The pause process holds podman's user and mount namespaces (and with them its overlay mounts).
      const pidFile = path.join(dir, 'tmp', 'pause.pid');
      if (fs.existsSync(pidFile)) {
        const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
        if (pid > 1) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
          for (let i = 0; i < 50; i++) {
            try { process.kill(pid, 0); } catch { break; }
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
      await removeTree(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Tar listings: what a root filesystem archive holds, comparable across tools.

export interface FsEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  sha256?: string;
  size?: number;
  /** Hard-linked files: every path of the group, sorted and joined. */
  links?: string;
  /** Modification time in whole seconds, for non-directories (a runtime touches directories it mounts on). */
  mtime?: number;
  xattrs?: string;
}

function cleanName(n: string): string {
  return n.replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Reads a tar (plain or gzip) into path → entry. Hard links become files carrying their target's content and group. */
export async function tarListing(file: string): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>();
  const linkOf = new Map<string, string>();
  const ex = tarStream.extract();
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const name = cleanName(h.name);
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of entry) { hash.update(c as Buffer); size += (c as Buffer).length; }
      if (name === '' || name === '.') continue;
      const xa = Object.keys((h as { pax?: Record<string, string> }).pax ?? {}).filter((k) => k.startsWith('SCHILY.xattr.')).sort();
      const base = { mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, ...(xa.length ? { xattrs: xa.join(',') } : {}) };
      const mtime = h.type === 'directory' ? {} : { mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000) };
      switch (h.type) {
        case 'file': case 'contiguous-file': out.set(name, { type: 'file', ...base, ...mtime, sha256: hash.digest('hex'), size }); break;
        case 'directory': out.set(name, { type: 'dir', ...base }); break;
        case 'symlink': out.set(name, { type: 'symlink', ...base, ...mtime, target: h.linkname ?? '' }); break;
        case 'link': {
          const target = cleanName(h.linkname ?? '');
          const t = out.get(target);
          out.set(name, { ...(t ?? { type: 'file', ...base }), ...base, type: 'file' });
          linkOf.set(name, linkOf.get(target) ?? target);
          if (!linkOf.has(target)) linkOf.set(target, target);
          break;
        }
        case 'character-device': out.set(name, { type: 'char', ...base }); break;
        case 'block-device': out.set(name, { type: 'block', ...base }); break;
        case 'fifo': out.set(name, { type: 'fifo', ...base }); break;
        default: break;
      }
    }
  })();
  const src = fs.createReadStream(file);
  await Promise.all([gz ? pipeline(src, zlib.createGunzip(), ex) : pipeline(src, ex), done]);
  const groups = new Map<string, string[]>();
  for (const [p, root] of linkOf) groups.set(root, [...(groups.get(root) ?? []), p]);
  for (const members of groups.values()) {
    const key = [...members].sort().join(' ');
    for (const m of members) { const e = out.get(m); if (e) e.links = key; }
  }
  return out;
}

/** Paths a container runtime creates or mounts over, which two tools need not agree on. */
export const RUNTIME_PATHS = /^(dev|proc|sys)(\/|$)|^(etc\/hosts|etc\/hostname|etc\/resolv\.conf|run\/\.containerenv|run\/secrets(\/.*)?)$/;

/** Differences between two listings, as readable lines ("path: a … b"); paths matching IGNORE are skipped. */
export function diffListings(a: Map<string, FsEntry>, b: Map<string, FsEntry>, names: [string, string], ignore: RegExp = RUNTIME_PATHS, opts: { dirModesOf?: RegExp } = {}): string[] {
  const diffs: string[] = [];
  const fmt = (e: FsEntry) => JSON.stringify(e);
  for (const p of new Set([...a.keys(), ...b.keys()])) {
    if (ignore.test(p)) continue;
    const x = a.get(p);
    const y = b.get(p);
    if (!x) { diffs.push(`${p}: only in ${names[1]} ${fmt(y!)}`); continue; }
    if (!y) { diffs.push(`${p}: only in ${names[0]} ${fmt(x)}`); continue; }
    const xs = { ...x };
    const ys = { ...y };
    // Directories a runtime creates as mount points keep the runtime's mode.
    if (opts.dirModesOf?.test(p) && x.type === 'dir' && y.type === 'dir') { xs.mode = ys.mode; }
    if (fmt(xs) !== fmt(ys)) diffs.push(`${p}: ${names[0]} ${fmt(x)} / ${names[1]} ${fmt(y)}`);
  }
  return diffs.sort();
}

// ---------------------------------------------------------------------------------------------------
// A proxy in front of a registry that can tamper with, drop or slow down blob downloads.

export type Fault =
  | { kind: 'none' }
  /** Same length, one byte changed. */
  | { kind: 'flip'; digest: string }
  /** The blob plus extra bytes, with a Content-Length that says so. */
  | { kind: 'longer'; digest: string; announce: boolean }
  /** Full Content-Length announced, half sent (none of a resumed range), then the connection dropped; `times` such responses (default always). */
  | { kind: 'drop'; digest: string; times?: number }
  /** Every blob body at this many bytes per second. */
  | { kind: 'throttle'; bytesPerSecond: number }
  /** Manifests with a byte appended (still valid JSON), Docker-Content-Digest left as the registry said. */
  | { kind: 'manifest' };

export interface Proxy {
  host: string;
  fault: Fault;
  /** Request lines seen ("GET /v2/…"), in order. */
  requests: string[];
  close(): Promise<void>;
}

const BLOB_RE = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

export async function startProxy(upstream: string): Promise<Proxy> {
  const state: Proxy = { host: '', fault: { kind: 'none' }, requests: [], close: async () => undefined };
  const dropped = new Map<string, number>();
  const server = http.createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    const blob = req.method === 'GET' ? BLOB_RE.exec((req.url ?? '').split('?')[0])?.[1] : undefined;
    const isManifest = req.method === 'GET' && /^\/v2\/.+\/manifests\//.test(req.url ?? '');
    const up = http.request({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } }, (ur) => {
      const f = state.fault;
      const headers = { ...ur.headers };
      if (isManifest && f.kind === 'manifest' && ur.statusCode === 200) {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const body = Buffer.concat([...chunks, Buffer.from('\n')]);
          headers['content-length'] = String(body.length);
          res.writeHead(200, headers);
          res.end(body);
        });
        return;
      }
      if (blob && f.kind === 'drop' && f.digest === blob && ur.statusCode === 206 && (f.times === undefined || (dropped.get(blob) ?? 0) < f.times)) {
        // A resume (Range request) of a blob that is dropped every time: headers, then nothing.
        dropped.set(blob, (dropped.get(blob) ?? 0) + 1);
        ur.resume();
        res.writeHead(206, headers);
        res.flushHeaders();
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (blob && ur.statusCode === 200 && (f.kind === 'throttle' || ((f.kind === 'flip' || f.kind === 'longer' || f.kind === 'drop') && f.digest === blob))) {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          let body = Buffer.concat(chunks);
          if (f.kind === 'flip') {
            body = Buffer.from(body);
            body[Math.floor(body.length / 2)] ^= 0xff;
          } else if (f.kind === 'longer') {
            body = Buffer.concat([body, Buffer.alloc(4096, 0x41)]);
            if (f.announce) headers['content-length'] = String(body.length);
            else delete headers['content-length'];
          } else if (f.kind === 'drop') {
            const n = (dropped.get(blob) ?? 0) + 1;
            dropped.set(blob, n);
            if (f.times === undefined || n <= f.times) {
              res.writeHead(200, headers);
              res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 50));
              return;
            }
          } else if (f.kind === 'throttle') {
            res.writeHead(200, headers);
            const step = Math.max(1, Math.floor(f.bytesPerSecond / 20));
            let off = 0;
            const tick = () => {
              if (res.destroyed) return;
              if (off >= body.length) { res.end(); return; }
              res.write(body.subarray(off, off + step));
              off += step;
              setTimeout(tick, 50);
            };
            tick();
            return;
          }
          res.writeHead(200, headers);
          res.end(body);
        });
        return;
      }
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return state;
}

/** A registry that answers /v2/ and serves one schema 1 manifest (signed or plain) for every manifest request. */
export async function startSchema1Server(): Promise<{ host: string; close(): Promise<void> }> {
  const manifest = {
    schemaVersion: 1,
    name: 'old/image',
    tag: 'latest',
    architecture: 'amd64',
    fsLayers: [{ blobSum: `sha256:${'a'.repeat(64)}` }],
    history: [{ v1Compatibility: JSON.stringify({ id: 'b'.repeat(64), created: '2015-01-01T00:00:00Z' }) }],
    signatures: [{ header: { alg: 'ES256' }, signature: 'c2ln', protected: 'cHJvdGVjdGVk' }],
  };
  const body = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    if (/\/manifests\//.test(url)) {
      const type = url.includes('/plain/') ? 'application/vnd.docker.distribution.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v1+prettyjws';
      res.writeHead(200, { 'Content-Type': type, 'Docker-Content-Digest': digest, 'Content-Length': String(body.length), 'Docker-Distribution-API-Version': 'registry/2.0' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return { host, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** Whether any process still runs with ARG in its command line (leftover helpers of a killed CLI). */
export function processesMentioning(arg: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(arg)) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}


// ---------------------------------------------------------------------------------------------------
// Each pull-push file's scratch directory (fixtures, archives) and fresh stores: the stores newStore()
// makes are removed after every test, the scratch directory after the file (vitest runs after-hooks
// in reverse order, so these run after the file's own: a registry or proxy is stopped first).

export function pullPushScratch(prefix: string): { scratch: string; newStore: () => Store } {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `lodger-${prefix}-`));
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.cleanup()));
  });
  afterAll(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  const newStore = (): Store => {
    const st = makeStore(`lodger-${prefix}-store-`);
    stores.push(st);
    return st;
  };
  return { scratch, newStore };
}
