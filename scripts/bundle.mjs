// Bundles the CLI into dist/ with esbuild: one file, so `lodger run` starts without resolving a module tree.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: { lodger: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // proper-lockfile's graceful-fs is replaced by plain fs (see src/storage/fsShim.js).
  alias: { 'graceful-fs': './src/storage/fsShim.js' },
});

// A new bundle invalidates the code cache bin/lodger keeps beside it.
for (const f of ['dist/lodger.js.cache', 'dist/lodger.js.cache.run']) rmSync(f, { force: true });
