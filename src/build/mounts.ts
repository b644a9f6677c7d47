// RUN --mount: cache, bind, secret and tmpfs mounts turned into bind mounts of the build container, never part of its layer.
//
// - cache: a directory per user and id kept in the store ($root/build-cache-mounts/<id>), so its
//   content outlives the build; sharing=locked (and the default "shared", for safety across parallel
//   builds) holds a lock on it for the step.
// - bind: a context path, read-only; with rw, a copy whose changes are thrown away (Docker's rule).
// - secret: the file given with --secret id=ID,src=PATH at /run/secrets/ID, read-only.
// - tmpfs: an empty private directory, removed after the step.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import lockfile from 'proper-lockfile';
import type { MountRecord } from '../storage/containers';
import { contextRelative, resolveInside } from './context';
import { BuildError } from './errors';
import type { Build } from './state';

export interface MountSpec { type: string; target?: string; source?: string; id?: string; from?: string; readonly: boolean; sharing: string; mode?: number; uid?: number; gid?: number; required: boolean }

/** Parses one --mount value (comma-separated key=value; bare ro/rw/readonly flags). */
export function parseMount(text: string, line: number): MountSpec {
  const m: MountSpec = { type: 'bind', readonly: true, sharing: 'shared', required: false };
  let rwGiven = false;
  for (const part of text.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : part.slice(eq + 1);
    switch (k) {
      case 'type': m.type = v; break;
      case 'target': case 'dst': case 'destination': m.target = v; break;
      case 'source': case 'src': m.source = v; break;
      case 'id': m.id = v; break;
      case 'from': m.from = v; break;
      case 'ro': case 'readonly': m.readonly = v === '' || v === 'true'; rwGiven = true; break;
      case 'rw': case 'readwrite': m.readonly = !(v === '' || v === 'true'); rwGiven = true; break;
      case 'sharing': m.sharing = v; break;
      case 'mode': m.mode = parseInt(v, 8); break;
      case 'uid': m.uid = Number(v); break;
      case 'gid': m.gid = Number(v); break;
      case 'required': m.required = v === '' || v === 'true'; break;
      case 'size': break;
      default: throw new BuildError('BUILD_SYNTAX', `line ${line}: RUN --mount: unknown option "${k}"`);
    }
  }
  if (!['bind', 'cache', 'secret', 'tmpfs', 'ssh'].includes(m.type)) throw new BuildError('BUILD_SYNTAX', `line ${line}: RUN --mount type=${m.type}: expected bind, cache, secret or tmpfs`);
  if (m.type === 'cache' && !rwGiven) m.readonly = false;
  if (m.type === 'tmpfs') m.readonly = false;
  if (m.type === 'secret' && !m.target) m.target = `/run/secrets/${m.id ?? path.basename(m.source ?? '')}`;
  if (!m.target) throw new BuildError('BUILD_SYNTAX', `line ${line}: RUN --mount type=${m.type} needs target=PATH`);
  if (!['shared', 'private', 'locked'].includes(m.sharing)) throw new BuildError('BUILD_SYNTAX', `line ${line}: RUN --mount sharing=${m.sharing}: expected shared, private or locked`);
  return m;
}

function mountRecord(source: string, target: string, readonly: boolean): MountRecord {
  return { Type: 'bind', Source: source, Destination: target, Mode: readonly ? 'ro' : '', RW: !readonly, Propagation: 'rprivate' };
}

export async function buildMounts(b: Build, stage: number, specs: string[], line: number): Promise<{ mounts: MountRecord[]; keys: string[]; release: () => Promise<void> }> {
  const mounts: MountRecord[] = [];
  const keys: string[] = [];
  const releases: Array<() => Promise<void> | void> = [];
  const release = async () => { for (const r of releases.reverse()) await r(); };
  try {
    for (const text of specs) {
      const m = parseMount(text, line);
      const target = path.posix.resolve('/', m.target!);
      if (m.type === 'cache') {
        if (m.from) throw new BuildError('BUILD_UNSUPPORTED', `line ${line}: RUN --mount type=cache,from=… is not supported yet`);
        const id = m.id ?? target;
        const dir = path.join(b.p.root, 'build-cache-mounts', crypto.createHash('sha256').update(id).digest('hex').slice(0, 32));
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
        if (m.sharing === 'private') {
          // A private cache is not shared with a concurrent step: a fresh one, discarded after it.
          const tmp = fs.mkdtempSync(path.join(b.p.tmp, 'build-cache-private-'));
          releases.push(() => removeTreeAsCaller(tmp));
          mounts.push(mountRecord(tmp, target, false));
          continue;
        }
        const unlock = await lockfile.lock(dir, { retries: { retries: 600, minTimeout: 100, maxTimeout: 1000 }, stale: 60_000, realpath: false });
        releases.push(unlock);
        mounts.push(mountRecord(dir, target, m.readonly));
      } else if (m.type === 'bind') {
        if (m.from) {
          // from=STAGE|IMAGE: SOURCE (default its root) is read out of that stage's or image's layers
          // into a private copy, as COPY --from reads it; a copy also makes rw's writes vanish (Docker's rule).
          const { selectFromImage } = await import('./copyFrom');
          const sel = await selectFromImage(b, stage, m.from, [path.posix.resolve('/', m.source ?? '/')], line);
          releases.push(sel.cleanup);
          keys.push(sel.key);
          const top = (await sel.sources())[0].files.find((f) => f.top);
          if (!top) throw new BuildError('BUILD_COPY_SOURCE', `line ${line}: RUN --mount type=bind,from=${m.from},source=${m.source}: no such file or directory`);
          mounts.push(mountRecord(top.abs, target, m.readonly));
          continue;
        }
        const rel = contextRelative(m.source ?? '.', 'RUN --mount');
        const source = resolveInside(b.ctx.root, rel);
        if (!fs.existsSync(source)) throw new BuildError('BUILD_COPY_SOURCE', `line ${line}: RUN --mount type=bind,source=${m.source}: no such file or directory in the build context`);
        if (!m.readonly) {
          // rw: the step may write, but its writes are thrown away (as Docker's): it gets a copy.
          const copy = fs.mkdtempSync(path.join(b.p.tmp, 'build-bind-'));
          releases.push(() => removeTreeAsCaller(copy));
          const dst = path.join(copy, path.basename(source) || 'root');
          fs.cpSync(source, dst, { recursive: true, verbatimSymlinks: true });
          mounts.push(mountRecord(dst, target, false));
          continue;
        }
        mounts.push(mountRecord(source, target, true));
      } else if (m.type === 'secret') {
        const id = m.id ?? path.basename(m.target!);
        const secret = b.input.secrets.find((s) => s.id === id);
        if (!secret) {
          if (m.required) throw new BuildError('BUILD_SECRET', `line ${line}: the secret "${id}" is required — pass it with --secret id=${id},src=FILE`);
          continue;
        }
        mounts.push(mountRecord(path.resolve(secret.src), target, true));
      } else if (m.type === 'tmpfs') {
        const tmp = fs.mkdtempSync(path.join(b.p.tmp, 'build-tmpfs-'));
        releases.push(() => removeTreeAsCaller(tmp));
        mounts.push(mountRecord(tmp, target, false));
      } else {
        throw new BuildError('BUILD_UNSUPPORTED', `line ${line}: RUN --mount type=${m.type} is not supported`);
      }
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { mounts, keys, release };
}

/** Removes a scratch tree a step may have filled with files of mapped ids (the worker can, we may not). */
async function removeTreeAsCaller(dir: string): Promise<void> {
  const { removeTrees } = await import('../storage/layers');
  await removeTrees([dir]).catch(() => fs.rmSync(dir, { recursive: true, force: true }));
}
