// Flattens a docker-archive (lodger save, podman save --format docker-archive) into the file tree its image shows: one entry per path with type, mode, owner, size, content hash and link target.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

export interface TreeEntry { type: string; mode: string; uid: number; gid: number; size: number; sha256?: string; link?: string }

interface Raw { name: string; type: string; mode: number; uid: number; gid: number; size: number; sha256?: string; linkname?: string }

async function readTar(buf: Buffer): Promise<Raw[]> {
  const data = buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf;
  const ex = tar.extract();
  const out: Raw[] = [];
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const hash = crypto.createHash('sha256');
      stream.on('data', (c: unknown) => hash.update(c as Buffer));
      stream.on('end', () => {
        out.push({ name: h.name.replace(/^\.?\/+/, '').replace(/\/$/, ''), type: h.type ?? 'file', mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0, sha256: h.type === 'file' ? hash.digest('hex') : undefined, linkname: h.linkname ?? undefined });
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from(data).pipe(ex);
  });
  return out;
}

/** The image's tree from ARCHIVE (a docker-archive tar), applying whiteouts and opaque directories layer by layer. */
export async function imageTree(archive: string, workDir: string): Promise<Map<string, TreeEntry>> {
  const dir = fs.mkdtempSync(path.join(workDir, 'tree-'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('tar', ['-C', dir, '-xf', archive]);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0] as { Layers: string[] };
  const tree = new Map<string, Raw>();
  for (const layer of manifest.Layers) {
    const entries = await readTar(fs.readFileSync(path.join(dir, layer)));
    const under = (p: string, d: string) => d === '' || p.startsWith(d + '/');
    // Deletions first (image-spec layer.md): an opaque directory hides what lower layers had in it.
    for (const e of entries) {
      const base = path.posix.basename(e.name);
      const parent = path.posix.dirname(e.name) === '.' ? '' : path.posix.dirname(e.name);
      if (base === '.wh..wh..opq') {
        for (const k of [...tree.keys()]) if (k !== parent && under(k, parent)) tree.delete(k);
      } else if (base.startsWith('.wh.')) {
        const gone = (parent ? parent + '/' : '') + base.slice(4);
        for (const k of [...tree.keys()]) if (k === gone || under(k, gone)) tree.delete(k);
      }
    }
    for (const e of entries) {
      const base = path.posix.basename(e.name);
      if (base.startsWith('.wh.') || e.name === '' || e.name === '.') continue;
      // A hard link shows as the file it shares an inode with.
      if (e.type === 'link') {
        const target = tree.get(e.linkname!.replace(/^\.?\/+/, ''));
        tree.set(e.name, { ...(target ?? e), name: e.name, type: 'file', mode: e.mode || target?.mode || 0, uid: e.uid, gid: e.gid });
        continue;
      }
      tree.set(e.name, e);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const out = new Map<string, TreeEntry>();
  for (const [k, e] of [...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.set(k, { type: e.type, mode: e.mode.toString(8), uid: e.uid, gid: e.gid, size: e.type === 'file' ? e.size : 0, ...(e.sha256 ? { sha256: e.sha256 } : {}), ...(e.type === 'symlink' ? { link: e.linkname } : {}) });
  }
  return out;
}

/** The image config (config.json of the image-spec) a docker-archive holds. */
export function archiveConfig(archive: string, workDir: string): Record<string, unknown> {
  const dir = fs.mkdtempSync(path.join(workDir, 'cfg-'));
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  execFileSync('tar', ['-C', dir, '-xf', archive, 'manifest.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0] as { Config: string };
  execFileSync('tar', ['-C', dir, '-xf', archive, manifest.Config]);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, manifest.Config), 'utf8')) as Record<string, unknown>;
  fs.rmSync(dir, { recursive: true, force: true });
  return cfg;
}

/** Differences between two trees, one line per path: "path: a → b", "only in A: path". */
export function treeDiff(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>, names = ['lodger', 'podman']): string[] {
  const out: string[] = [];
  for (const [k, e] of a) {
    const f = b.get(k);
    if (!f) out.push(`only in ${names[0]}: /${k} ${JSON.stringify(e)}`);
    else if (JSON.stringify(e) !== JSON.stringify(f)) out.push(`/${k}: ${names[0]} ${JSON.stringify(e)} ≠ ${names[1]} ${JSON.stringify(f)}`);
  }
  for (const [k, f] of b) if (!a.has(k)) out.push(`only in ${names[1]}: /${k} ${JSON.stringify(f)}`);
  return out;
}
