// Flattens an image's layers into one tree and makes it a squashfs file, as root of the caller's user namespace (the worker side of `save --format squashfs`).
//
// Both halves run in the user namespace so ownership comes out as the container sees it: applyLayerDir
// recreates each file with its container owner (stored on disk as the mapped host id), and mksquashfs,
// reading the tree from inside the same namespace, sees and records the container's ids (0, 1000, …),
// not the host's subordinate ids — so the file means the same thing on any machine.
//
// mksquashfs is a host program reading a directory, like tar: it is never run chrooted into the image
// nor with the image's libraries. The CVE-2019-14271 class (docker cp running the image's own nsswitch
// libraries in a privileged helper) needs a host binary executed inside the container's root — not this.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { applyLayerDir } from './layerApply';

export interface SquashRequest {
  /** A directory that must not exist yet: the flattened tree is built there and removed afterwards. */
  root: string;
  /** The image config to embed as /.lodger/config.json (squashfsImage.ts). */
  configFile: string;
  out: string;
  /** Unpacked layer directories, bottom first. */
  layers: string[];
}

export interface SquashResult { entries: number; notes: string[]; bytes: number }

function runMksquashfs(root: string, out: string): Promise<void> {
  // -noappend: OUT is ours to replace. -no-progress/-quiet: the worker's stdout carries its JSON result.
  // zstd (squashfs since Linux 4.14, squashfuse ≥ 0.1.101): decompresses at several times gzip's speed,
  // and what a container reads, it reads through squashfuse on every start.
  const args = [root, out, '-noappend', '-no-progress', '-quiet', '-comp', 'zstd', '-Xcompression-level', '6'];
  return new Promise((resolve, reject) => {
    const child = spawn('mksquashfs', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (e) => {
      reject((e as NodeJS.ErrnoException).code === 'ENOENT'
        ? new LodgerError('NO_SQUASHFS_TOOLS', 'save --format squashfs: mksquashfs is not installed — install it (Debian: apt install squashfs-tools)')
        : e);
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new LodgerError('MKSQUASHFS_FAILED', `save --format squashfs: mksquashfs ${out} failed (${code ?? signal}): ${stderr.trim() || 'no message'} — check the free space where the file is written`));
    });
  });
}

export async function buildSquashfs(req: SquashRequest): Promise<SquashResult> {
  const notes: string[] = [];
  let entries = 0;
  fs.mkdirSync(req.root, { mode: 0o755 });
  try {
    for (const layer of req.layers) {
      const r = applyLayerDir(layer, req.root);
      entries += r.entries;
      notes.push(...r.notes);
    }
    // The config goes in last, replacing any /.lodger the image itself had (lodger owns that name in the file).
    const meta = path.join(req.root, '.lodger');
    if (fs.lstatSync(meta, { throwIfNoEntry: false })) {
      notes.push('the image\'s own /.lodger was replaced by the image config in the squashfs file');
      fs.rmSync(meta, { recursive: true, force: true });
    }
    fs.mkdirSync(meta, { mode: 0o755 });
    fs.copyFileSync(req.configFile, path.join(meta, 'config.json'), fs.constants.COPYFILE_EXCL);
    fs.chmodSync(path.join(meta, 'config.json'), 0o644);
    fs.chmodSync(meta, 0o755);
    await runMksquashfs(req.root, req.out);
  } finally {
    fs.rmSync(req.root, { recursive: true, force: true, maxRetries: 3 });
  }
  return { entries, notes, bytes: fs.statSync(req.out).size };
}
