// Merges a build stage's layers into one layer tar, as root of the caller's user namespace (the worker side of `build --layers=false`).
//
// Each unpacked layer directory (overlayfs' on-disk form) is applied in turn onto an empty directory
// with its whiteouts and opaque directories kept (layerApply.ts keepWhiteouts): the result is the
// upper directory a single step making all their changes would have left. It is then archived as
// `commit` archives an upper (treeTar.ts, diff mode), so owners come out as the container sees them.
import * as fs from 'node:fs';
import { applyLayerDir } from './layerApply';
import { packToFile, type PackResult } from './treeTar';

export async function mergeLayers(root: string, out: string, layers: string[]): Promise<PackResult & { notes: string[] }> {
  const notes: string[] = [];
  fs.mkdirSync(root, { mode: 0o755 });
  try {
    for (const layer of layers) notes.push(...applyLayerDir(layer, root, { keepWhiteouts: true, rootless: true }).notes);
    const fd = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      return { ...await packToFile({ dirFd: fd, name: null }, Buffer.alloc(0), out, { mode: 'diff' }), notes };
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  }
}
