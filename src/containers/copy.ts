// `cp`: parses CONTAINER:PATH arguments as Docker does and runs the copy in a worker on the container's filesystem.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { LodgerError } from '../errors';
import { readContainer, resolveContainer } from '../storage/containers';
import { ensureStore, type StorePaths } from '../storage/paths';
import type { CopyRequest, CopyResult } from '../worker/containerCopy';
import { runOnContainerFs } from './containerFs';

export interface CpArg { container?: string; path: string }

/**
 * Docker's split of a cp argument: an absolute path, "-", or anything whose part before the first
 * ":" starts with "." is local; otherwise NAME:PATH names a container.
 */
export function parseCpArg(arg: string): CpArg {
  if (arg.startsWith('/') || arg === '-') return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** An absolute host path that keeps a trailing "/" or "/." — they carry meaning in cp's rules. */
function absoluteHostPath(p: string): string {
  if (p === '-') return p;
  const abs = path.resolve(p);
  if (p.endsWith('/.') || p === '.') return abs === '/' ? '/.' : `${abs}/.`;
  if (p.endsWith('/') && abs !== '/') return `${abs}/`;
  return abs;
}

export interface CpOptions { archive: boolean; follow: boolean }

export interface CpOutcome extends CopyResult { direction: 'in' | 'out'; dest: string }

export async function copyFiles(p: StorePaths, srcArg: string, dstArg: string, o: CpOptions, stdout: Writable): Promise<CpOutcome> {
  const src = parseCpArg(srcArg);
  const dst = parseCpArg(dstArg);
  if (src.container !== undefined && dst.container !== undefined) throw new LodgerError('CP_USAGE', 'copying between containers is not supported — copy to the host first');
  if (src.container === undefined && dst.container === undefined) throw new LodgerError('CP_USAGE', 'must specify at least one container source, as CONTAINER:PATH');
  const out = src.container !== undefined;
  const ctr = out ? src : dst;
  const host = out ? dst : src;
  if (ctr.path === '') throw new LodgerError('CP_USAGE', `${ctr.container}: give a path in the container after the ":" (e.g. ${ctr.container}:/)`);
  if (!out && host.path === '-') throw new LodgerError('CP_UNSUPPORTED', 'copying a tar stream from stdin into a container is not supported yet — extract it on the host and copy the directory');
  const id = resolveContainer(p, ctr.container!);
  const rec = readContainer(p, id);
  if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ctr.container}`);
  if (out && host.path === '-' && (stdout as { isTTY?: boolean }).isTTY) {
    throw new LodgerError('CP_TTY', 'refusing to write a tar archive to a terminal — redirect the output or give a destination path');
  }
  const req: CopyRequest = {
    direction: out ? 'out' : 'in',
    root: '',
    containerPath: ctr.path,
    hostPath: absoluteHostPath(host.path),
    archive: o.archive,
    follow: o.follow,
  };
  if (req.hostPath === '-') {
    ensureStore(p);
    req.tarFile = path.join(p.tmp, `cp-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
  }
  try {
    const { result } = await runOnContainerFs<CopyResult>(p, rec, { write: !out }, 'cp', (root) => [JSON.stringify({ ...req, root })]);
    if (req.tarFile) await pipeline(fs.createReadStream(req.tarFile), stdout, { end: false });
    return { ...result, direction: req.direction, dest: out ? host.path : `${ctr.container}:${ctr.path}` };
  } finally {
    if (req.tarFile) fs.rmSync(req.tarFile, { force: true });
  }
}
