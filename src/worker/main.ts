// Entry of `lodger __worker OP …`: store operations that run as root of the caller's user namespace.
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { WORKER_INPUT_CHUNK } from '../helper/native';

type Op = (args: string[]) => Promise<unknown>;

const ops: Record<string, Op> = {
  /**
   * unpack DEST: stdin is a line that names the layer in errors, then its uncompressed tar → DEST. The
   * name comes on stdin because the worker may be started before the layer is known (storage/layers.ts
   * prepareLayerSlot). The caller decompresses and hashes the blob: its main thread is free to keep the
   * decoder busy while this one writes files.
   */
  async unpack([dest]) {
    const { unpackLayer } = require('./layerUnpack') as typeof import('./layerUnpack');
    fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
    // Read in 1 MiB pieces from the pipe the caller grew to that size (usernsWorker.ts), not through
    // process.stdin, which takes 64 KiB at a time.
    const input = fs.createReadStream('', { fd: 0, highWaterMark: WORKER_INPUT_CHUNK });
    const label = await takeLine(input);
    // Files are created with the layer's modes as they are (see layerUnpack.ts), not less the caller's umask.
    process.umask(0);
    const res = await unpackLayer(input, dest, { rootless: true, label });
    return { entries: res.entries, notes: res.notes };
  },
  /** rm PATH…: remove trees whose files belong to mapped ids. */
  async rm(paths) {
    for (const p of paths) fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 });
    return { removed: paths.length };
  },
  /** apply LAYERDIR ROOTFS [IDMAP-JSON]: copy an unpacked layer onto a rootfs (the vfs driver), translating owners for keep-id. */
  async apply([layerDir, rootfs, ids]) {
    const { applyLayerDir } = require('./layerApply') as typeof import('./layerApply');
    fs.mkdirSync(rootfs, { recursive: true, mode: 0o755 });
    const r = await applyLayerDir(layerDir, rootfs, ids ? { idMap: JSON.parse(ids) } : {});
    return { notes: r.notes };
  },
  /** shift SRC DEST IDMAP-JSON: copy a layer directory as it is, owners mapped (keep-id's shifted layers, storage/shiftedLayers.ts). */
  async shift([src, dest, ids]) {
    const { shiftLayer } = require('./layerShift') as typeof import('./layerShift');
    // Modes are set explicitly on every copy; the umask must not narrow the directories made first.
    process.umask(0);
    return shiftLayer(src, dest, JSON.parse(ids));
  },
  /** cp REQUEST-JSON: copy between a container's root and the host (containerCopy.ts). */
  async cp([req]) {
    const { copy } = require('./containerCopy') as typeof import('./containerCopy');
    return copy(JSON.parse(req));
  },
  /** pack ROOT OUTFILE rootfs|diff: tar the contents of ROOT (export; an overlay upper as a layer for commit). */
  async pack([root, out, mode]) {
    const { packToFile } = require('./treeTar') as typeof import('./treeTar');
    const fd = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try { return packToFile({ dirFd: fd, name: null }, Buffer.alloc(0), out, { mode: mode === 'diff' ? 'diff' : 'rootfs' }); } finally { fs.closeSync(fd); }
  },
  /** squash ROOT CONFIG OUT LAYERDIR…: flatten the layers (bottom first) at ROOT and write the squashfs file OUT (save --format squashfs). */
  async squash([root, configFile, out, ...layers]) {
    const { buildSquashfs } = require('./squashBuild') as typeof import('./squashBuild');
    return buildSquashfs({ root, configFile, out, layers });
  },
  /** merge ROOT OUTFILE LAYERDIR…: one layer tar holding the changes of the layers (bottom first), via ROOT (build --layers=false). */
  async merge([root, out, ...layers]) {
    const { mergeLayers } = require('./mergeLayers') as typeof import('./mergeLayers');
    return mergeLayers(root, out, layers);
  },
  /** copyup REQUEST-JSON: fill new, empty volumes from the image's content at their mount points (volumeCopyUp.ts). */
  async copyup([req]) {
    const { copyUp } = require('./volumeCopyUp') as typeof import('./volumeCopyUp');
    return copyUp(JSON.parse(req));
  },
  /** du PATH…: apparent sizes of trees (container layers) for `system df` and `container prune`. */
  async du(paths) {
    const { treeSize } = require('./diskUsage') as typeof import('./diskUsage');
    return paths.map(treeSize);
  },
};

/** STREAM's first line, without its newline; what follows it is put back for the next reader. */
async function takeLine(stream: NodeJS.ReadableStream & Readable): Promise<string> {
  const parts: Buffer[] = [];
  for (;;) {
    const chunk = stream.read() as Buffer | null;
    if (chunk === null) {
      if (stream.readableEnded) break;
      await new Promise<void>((resolve) => {
        const go = () => { stream.off('readable', go); stream.off('end', go); resolve(); };
        stream.on('readable', go);
        stream.on('end', go);
      });
      continue;
    }
    const nl = chunk.indexOf(0x0a);
    if (nl < 0) { parts.push(chunk); continue; }
    parts.push(chunk.subarray(0, nl));
    if (nl + 1 < chunk.length) stream.unshift(chunk.subarray(nl + 1));
    break;
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function workerMain(argv: string[]): Promise<number> {
  const [op, ...args] = argv;
  const fn = ops[op];
  if (!fn) {
    process.stdout.write(JSON.stringify({ ok: false, error: { code: 'WORKER_USAGE', message: `unknown worker op ${op}` } }) + '\n');
    return 2;
  }
  try {
    const result = await fn(args);
    process.stdout.write(JSON.stringify({ ok: true, result }) + '\n');
    return 0;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    process.stdout.write(JSON.stringify({ ok: false, error: { code: err.code ?? 'WORKER_FAILED', message: err.message ?? String(e) } }) + '\n');
    return 1;
  }
}
