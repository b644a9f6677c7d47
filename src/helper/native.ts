// Locates the native parts — the lodger-helper executable and the lodger_native addon — reporting every path tried.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';

export interface NativeAddon {
  statfsType(path: string | Buffer): number;
  lsetxattr(path: string | Buffer, name: string, value: Buffer): void;
  lgetxattr(path: string | Buffer, name: string): Buffer | null;
  llistxattr(path: string | Buffer): string[];
  mknod(path: string | Buffer, mode: number, major: number, minor: number): void;
  syncfs(path: string | Buffer, cb: (err: Error | null) => void): void;
  /** SO_PEERCRED of a connected unix socket (addon/native/peerCred.cc). */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** A close-on-exec pipe [readFd, writeFd] whose buffer is grown to CAPACITY bytes where allowed. */
  pipe(capacity: number): [number, number];
  LayerDecoder: new (format: 'gzip' | 'zstd' | 'none') => NativeLayerDecoder;
}

/** One layer blob's decoder (addon/native/layerDecoder.cc): each step runs on libuv's thread pool. */
export interface NativeLayerDecoder {
  step(input: Buffer, inOffset: number, inLength: number, output: Buffer, outOffset: number, outLength: number,
    cb: (err: Error | null, consumed: number, produced: number, hint: number) => void): void;
  /** sha256 (`sha256:<hex>`) and length of everything produced so far. */
  digest(): { digest: string; size: number };
  close(): void;
}

/**
 * Capacity of the pipe into a store worker's stdin (helper/usernsWorker.ts), and the piece in which
 * both ends move its data (worker/main.ts).
 */
export const WORKER_INPUT_CHUNK = 1 << 20;

/**
 * The package's top directory: the bundle runs from dist/lodger.js, one level below it; unbundled
 * (vitest imports src/ directly) this file is src/helper/native.ts, two levels below.
 */
export function packageRoot(): string {
  const up = path.basename(path.dirname(__dirname)) === 'src' ? '../..' : '..';
  return path.resolve(__dirname, up);
}

function candidates(file: string): string[] {
  const top = packageRoot();
  return [path.join(top, 'build', 'Release', file), path.join(top, 'build', 'Debug', file)];
}

let helperPath: string | undefined;
/** Path of the native helper executable; LODGER_HELPER overrides it (for development). */
export function helperExecutable(): string {
  if (helperPath) return helperPath;
  const tried = process.env.LODGER_HELPER ? [process.env.LODGER_HELPER] : candidates('lodger-helper');
  for (const p of tried) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return (helperPath = p);
    } catch { /* try the next */ }
  }
  throw new LodgerError('NATIVE_MISSING', `native helper not found (tried ${tried.join(', ')}) — run "npm run build" in ${packageRoot()}`);
}

let addon: NativeAddon | undefined;
/** The node-addon-api addon, loaded on first use only (run's fast path does not need it); LODGER_NATIVE overrides its path (tests that bundle parts of lodger elsewhere). */
export function native(): NativeAddon {
  if (addon) return addon;
  const tried = process.env.LODGER_NATIVE ? [process.env.LODGER_NATIVE] : candidates('lodger_native.node');
  for (const p of tried) {
    if (!fs.existsSync(p)) continue;
    addon = require(p) as NativeAddon;
    return addon;
  }
  throw new LodgerError('NATIVE_MISSING', `native addon not found (tried ${tried.join(', ')}) — run "npm run build" in ${packageRoot()}`);
}
