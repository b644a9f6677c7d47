// Runs node-gyp with the headers of the Node that runs it when they are installed beside it (Debian's
// nodejs ships /usr/include/node): no download from nodejs.org, so `npm ci` builds offline too.
// An explicit --nodedir / npm_config_nodedir still wins.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const prefix = dirname(dirname(process.execPath));
const header = join(prefix, 'include', 'node', 'node_version.h');

/** The version node_version.h declares, as "vMAJOR.MINOR.PATCH". */
function headerVersion(file) {
  const text = readFileSync(file, 'utf8');
  const part = (name) => (new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text) || [])[1];
  return `v${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

if (!process.env.npm_config_nodedir && !args.some((a) => a.startsWith('--nodedir')) && existsSync(header) && headerVersion(header) === process.version) {
  args.push(`--nodedir=${prefix}`);
}
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
