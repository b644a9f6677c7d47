// Test entry run inside a real user namespace (unshare --map-root-user --map-auto): unpacks, applies, reads xattrs and removes trees, printing JSON.
//
// Bundled with esbuild by test/security/unpack.test.ts, so it runs as plain node as the namespace's root.
// Usage: node unpack-entry.js [--ops=tools|native:ADDON] OP ARGS…
//   unpack TAR DEST        decompress + digest + unpackLayer → {entries, notes, diffId, size}
//   apply LAYERDIR ROOTFS  applyLayerDir → {entries, notes}
//   xattrs PATH            every xattr of PATH (not following a symlink) → {name: hex}
//   rm PATH…               remove trees whose files belong to mapped ids
import * as fs from 'node:fs';
import { decompressStream } from '../../src/oci/decompress';
import { applyLayerDir } from '../../src/worker/layerApply';
import { unpackLayer } from '../../src/worker/layerUnpack';
import { nativeFsOps, setFsOps, toolFsOps, fsOps, type NativeFsCalls } from '../../src/worker/xattr';

async function main(argv: string[]): Promise<unknown> {
  const opsArg = argv[0]?.startsWith('--ops=') ? argv.shift()!.slice('--ops='.length) : 'tools';
  if (opsArg === 'tools') {
    setFsOps(toolFsOps);
  } else if (opsArg.startsWith('native:')) {
    const mod = { exports: {} as NativeFsCalls };
    process.dlopen(mod, opsArg.slice('native:'.length));
    setFsOps(nativeFsOps(mod.exports));
  } else {
    throw new Error(`unknown --ops=${opsArg}`);
  }
  const [op, ...args] = argv;
  switch (op) {
    case 'unpack': {
      const [tar, dest] = args;
      const plain = decompressStream(fs.createReadStream(tar), undefined, tar);
      const res = await unpackLayer(plain, dest, { rootless: true, label: tar });
      const d = await plain.digest;
      return { ...res, diffId: d.digest, size: d.size };
    }
    case 'apply':
      return applyLayerDir(args[0], args[1]);
    case 'xattrs': {
      const out: Record<string, string> = {};
      for (const name of fsOps().listXattrs(args[0])) out[name] = fsOps().getXattr(args[0], name)?.toString('hex') ?? '';
      return out;
    }
    case 'rm':
      for (const p of args) fs.rmSync(p, { recursive: true, force: true });
      return {};
    default:
      throw new Error(`unknown op ${op}`);
  }
}

main(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(JSON.stringify({ ok: true, result }) + '\n');
  },
  (e: unknown) => {
    const err = e as { code?: string; message?: string };
    process.stdout.write(JSON.stringify({ ok: false, error: { code: err.code ?? 'ERROR', message: err.message ?? String(e) } }) + '\n');
    process.exitCode = 1;
  },
);
