// `export`: a container's root filesystem (its layers, without volumes or /proc) as one tar archive.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { LodgerError, fsError } from '../errors';
import { readContainer, resolveContainer } from '../storage/containers';
import { ensureStore, type StorePaths } from '../storage/paths';
import type { PackResult } from '../worker/treeTar';
import { runOnContainerFs } from './containerFs';

/**
 * Writes the tar of container REF's filesystem to OUTFILE, or to STDOUT when no file is given. The
 * worker writes the file itself (as you, in its user namespace); for stdout it goes through a
 * temporary file in the store, since the worker's own stdout carries its result.
 */
export async function exportContainer(p: StorePaths, ref: string, outFile: string | undefined, stdout: Writable): Promise<PackResult> {
  const id = resolveContainer(p, ref);
  const rec = readContainer(p, id);
  if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ref}`);
  if (!outFile && (stdout as { isTTY?: boolean }).isTTY) {
    throw new LodgerError('EXPORT_TTY', 'refusing to write a tar archive to a terminal — use -o FILE or redirect the output');
  }
  ensureStore(p);
  const target = outFile ? path.resolve(outFile) : path.join(p.tmp, `export-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
  if (outFile) {
    // Fail here, with a plain message, rather than inside the worker.
    try { fs.accessSync(path.dirname(target), fs.constants.W_OK); } catch (e) { throw fsError('export: write', target, e, 'give a file in a writable directory'); }
  }
  try {
    const { result } = await runOnContainerFs<PackResult>(p, rec, { write: false, snapshot: true }, 'pack', (root) => [root, target, 'rootfs']);
    if (!outFile) await pipeline(fs.createReadStream(target), stdout, { end: false });
    return result;
  } finally {
    if (!outFile) fs.rmSync(target, { force: true });
  }
}
