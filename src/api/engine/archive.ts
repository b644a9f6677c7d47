// docker cp through the API (containers/{id}/archive): the same confined copy as `lodger cp` (containers/copy.ts
// runs it in a worker on the container's filesystem); tars are staged in the store's tmp directory.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { LodgerError } from '../../errors';
import { ensureStore, type StorePaths } from '../../storage/paths';
import { resolveContainer } from '../../storage/containers';
import { badRequest } from '../httpError';

/** Docker's X-Docker-Container-Path-Stat: Go's os.FileMode bits (ModeDir 1<<31, ModeSymlink 1<<27) over the permissions. */
export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

function staging(p: StorePaths, kind: string): string {
  ensureStore(p);
  return path.join(p.tmp, `api-${kind}-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
}

function checkPath(containerPath: string | null): string {
  if (!containerPath) throw badRequest('path is required');
  if (containerPath.includes('\0')) throw badRequest('path must not contain NUL');
  return containerPath;
}

/** The stat of the archive's first entry: the path asked for, as the copy names it. */
async function firstEntry(file: string): Promise<PathStat> {
  const ex = tarStream.extract();
  const stat = new Promise<PathStat>((resolve, reject) => {
    ex.once('entry', (h, stream) => {
      const kind = h.type === 'directory' ? GO_MODE_DIR : h.type === 'symlink' ? GO_MODE_SYMLINK : 0;
      resolve({ name: path.posix.basename(h.name.replace(/\/$/, '')), size: h.size ?? 0, mode: kind + ((h.mode ?? 0) & 0o7777), mtime: (h.mtime ?? new Date()).toISOString(), linkTarget: h.linkname ?? '' });
      stream.resume();
      ex.destroy();
    });
    ex.once('error', reject);
    ex.once('finish', () => reject(new LodgerError('CP_NO_SOURCE', 'the copy produced an empty archive')));
  });
  fs.createReadStream(file).pipe(ex).on('error', () => undefined);
  return stat;
}

/**
 * GET and HEAD: the tar of PATH in the container (as `lodger cp CTR:PATH -` writes it) staged in a file,
 * with its stat; the caller streams the file (GET) or sends only the stat (HEAD), then calls done().
 */
export async function archiveOut(p: StorePaths, ref: string, containerPath: string | null): Promise<{ stat: PathStat; file: string; done: () => void }> {
  const id = resolveContainer(p, ref);
  const want = checkPath(containerPath);
  const file = staging(p, 'cp-out') + '.tar';
  const { copyFiles } = await import('../../containers/copy');
  try {
    await copyFiles(p, `${id}:${want}`, '-', { archive: false, follow: false }, fs.createWriteStream(file) as unknown as Writable);
    return { stat: await firstEntry(file), file, done: () => fs.rmSync(file, { force: true }) };
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
}

/**
 * PUT: the client's tar extracted into a staging directory (entries that would leave it — absolute
 * names, "..", links out — are refused; devices are skipped, as an unprivileged user cannot make
 * them), then copied into DIR of the container by `lodger cp`'s confined copy.
 */
export async function archiveIn(p: StorePaths, ref: string, containerPath: string | null, body: Readable, limits: { maxBytes: number }): Promise<void> {
  const id = resolveContainer(p, ref);
  const want = checkPath(containerPath);
  const dir = staging(p, 'cp-in');
  fs.mkdirSync(dir, { mode: 0o700 });
  try {
    let total = 0;
    const ex = tarStream.extract();
    ex.on('entry', (h, stream, next) => {
      const name = path.posix.normalize(h.name);
      if (name.startsWith('/') || name === '..' || name.startsWith('../')) { stream.resume(); return next(badRequest(`archive entry ${h.name} leaves the destination`)); }
      const target = path.join(dir, name);
      const fail = (e: unknown) => { stream.resume(); next(e as Error); };
      try {
        if (h.type === 'directory') { fs.mkdirSync(target, { recursive: true, mode: 0o700 | ((h.mode ?? 0o755) & 0o777) }); stream.resume(); return next(); }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (h.type === 'symlink') { fs.symlinkSync(h.linkname ?? '', target); stream.resume(); return next(); }
        if (h.type === 'link') {
          const src = path.posix.normalize(h.linkname ?? '');
          if (src.startsWith('/') || src.startsWith('../')) return fail(badRequest(`archive link ${h.name} points out of the archive`));
          fs.linkSync(path.join(dir, src), target); stream.resume(); return next();
        }
        if (h.type !== 'file' && h.type !== 'contiguous-file') { stream.resume(); return next(); }
        const out = fs.createWriteStream(target, { mode: (h.mode ?? 0o644) & 0o777 });
        stream.on('data', (c: unknown) => { total += (c as Buffer).length; if (total > limits.maxBytes) stream.destroy(new LodgerError('CP_TOO_LARGE', `archive larger than ${limits.maxBytes} bytes`)); });
        pipeline(stream, out).then(() => { if (h.mtime) fs.utimesSync(target, h.mtime, h.mtime); next(); }, fail);
      } catch (e) { fail(e); }
    });
    await pipeline(body, ex);
    const { copyFiles } = await import('../../containers/copy');
    await copyFiles(p, `${dir}/.`, `${id}:${want.endsWith('/') ? want : want + '/'}`, { archive: false, follow: false }, new PassThrough());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
