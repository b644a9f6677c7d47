// `cp` against symlinks a container controls: a container swapping a directory for a link out while cp runs (CVE-2018-15664 class), and directories copied into links that point out — contained or refused, nothing outside read or changed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LodgerResult } from '../helpers/cli';
import { busyboxStore, climb, expectExit, loadHostileImage, Sentinel, securityPrereqs, type SecurityStore } from './securityHarness';

const ready = securityPrereqs();
let s: SecurityStore;
let sentinel: Sentinel;
const hostPasswd = fs.readFileSync('/etc/passwd', 'utf8');

beforeAll(async () => {
  if (!ready) return;
  s = await busyboxStore('lodger-sec-cp-');
  sentinel = new Sentinel(s.dir);
});
afterAll(async () => {
  if (s) await s.lodger(['rm', '-f', 'racer', 'into-live', 'into-stopped']);
  await s?.cleanup();
});

/** Every file under P (or P itself) with its content, for what a copy out brought. */
function filesUnder(p: string, out: Record<string, string> = {}): Record<string, string> {
  const st = fs.lstatSync(p);
  if (st.isDirectory()) for (const n of fs.readdirSync(p)) filesUnder(path.join(p, n), out);
  else if (st.isFile()) out[p] = fs.readFileSync(p, 'utf8');
  return out;
}

/** A cp that lodger refused says why (a message, not a crash); one that worked is checked by the caller. */
function refusedOrOk(r: LodgerResult, what: string): boolean {
  if (r.code === 0) return true;
  expect(`${what}: ${r.stderr}`).toMatch(/: lodger: (?!internal error)\S/);
  return false;
}

describe.skipIf(!ready)('cp while the container swaps a directory for a symlink out of it (CVE-2018-15664 class)', () => {
  it('reads and writes only inside the container, however the race falls', async () => {
    expectExit(await s.lodger(['run', '-d', '--name', 'racer', 'busybox', 'sleep', '300']), 0);
    // Three directories, each with a twin symlink: to the host sentinel (absolute), to it by ../.. (relative),
    // and to "/" — which is the container's root inside, the host's to anything that follows it outside.
    const links: Array<[string, string]> = [['abs', sentinel.dir], ['rel', climb(sentinel.dir)], ['root', '/']];
    expectExit(await s.lodger(['exec', 'racer', 'sh', '-c', [
      'set -e',
      ...links.map(([d, target]) => `mkdir -p /race/${d}/pts /race/${d}/etc && echo inside > /race/${d}/passwd && ` +
        `echo inside > /race/${d}/pts/keep && cp /etc/passwd /race/${d}/etc/passwd && ln -s ${target} /race/${d}.link`),
    ].join('\n')]), 0);
    // The attacker: for each, rename(2) the directory away, the link into its place, and back, without pause.
    const swap = (d: string) => `n=0; while :; do mv /race/${d} /race/${d}.dir; mv /race/${d}.link /race/${d}; ` +
      `mv /race/${d} /race/${d}.link; mv /race/${d}.dir /race/${d}; n=$((n+1)); echo $n > /race/${d}.swaps.new; ` +
      // Renamed into place: a count read while it is rewritten would otherwise be an empty file.
      `mv /race/${d}.swaps.new /race/${d}.swaps; done`;
    for (const [d] of links) expectExit(await s.lodger(['exec', '-d', 'racer', 'sh', '-c', swap(d)]), 0);

    const host = fs.mkdtempSync(path.join(s.dir, 'race-'));
    fs.writeFileSync(path.join(host, 'payload'), 'payload from the host\n');
    fs.mkdirSync(path.join(host, 'payload-dir/pts'), { recursive: true });
    fs.writeFileSync(path.join(host, 'payload-dir/passwd'), 'payload from the host\n');
    fs.writeFileSync(path.join(host, 'payload-dir/pts/keep'), 'payload from the host\n');
    let copied = 0;
    for (let round = 0; round < 4; round++) {
      const out = (n: string) => path.join(host, `r${round}-${n}`);
      const ops: Array<[string, string[], string | undefined]> = [];
      for (const [d] of links) {
        ops.push([`${d} passwd out`, ['cp', `racer:/race/${d}/passwd`, out(`${d}-passwd`)], out(`${d}-passwd`)]);
        ops.push([`${d} dir out`, ['cp', '-a', `racer:/race/${d}`, out(`${d}-dir`)], out(`${d}-dir`)]);
        ops.push([`${d} etc/passwd out`, ['cp', `racer:/race/${d}/etc/passwd`, out(`${d}-etc-passwd`)], out(`${d}-etc-passwd`)]);
        ops.push([`${d} file in`, ['cp', path.join(host, 'payload'), `racer:/race/${d}/passwd`], undefined]);
        ops.push([`${d} file into pts`, ['cp', path.join(host, 'payload'), `racer:/race/${d}/pts/`], undefined]);
        ops.push([`${d} dir in`, ['cp', path.join(host, 'payload-dir/.'), `racer:/race/${d}/`], undefined]);
      }
      const results = await Promise.all(ops.map(([, args]) => s.lodger(args)));
      for (const [i, [what, , dest]] of ops.entries()) {
        if (!refusedOrOk(results[i], what)) continue;
        copied++;
        if (!dest) continue;
        // What came out is the container's: never the sentinel's files, never the host's /etc/passwd.
        for (const [f, content] of Object.entries(filesUnder(dest))) {
          expect(`${what} ${f}: ${content}`).not.toContain(sentinel.token);
          expect(`${what} ${f}: ${content === hostPasswd ? "the host's /etc/passwd" : 'ok'}`).toBe(`${what} ${f}: ok`);
        }
      }
    }
    sentinel.assertUntouched();
    // The race was on: the swappers still run and went round while cp ran, and cp did get through at times.
    const swaps = await s.lodger(['exec', 'racer', 'sh', '-c', links.map(([d]) => `cat /race/${d}.swaps`).join('; ')]);
    expectExit(swaps, 0);
    for (const n of swaps.stdout.trim().split('\n')) expect(Number(n)).toBeGreaterThan(1);
    expect(copied).toBeGreaterThan(0);
  });
});

describe.skipIf(!ready)('a directory copied into a symlink that points out of the container', () => {
  it('lands inside the container or is refused; nothing outside is created or changed (stopped and running)', async () => {
    const name = `payload-${sentinel.token}`;
    const src = path.join(fs.mkdtempSync(path.join(s.dir, 'into-')), name);
    fs.mkdirSync(path.join(src, 'pts'), { recursive: true });
    for (const f of ['passwd', 'null', 'hosts', 'pts/keep']) fs.writeFileSync(path.join(src, f), 'payload from the host\n');
    await loadHostileImage(s, 'into-links', [
      { path: 'escape', type: 'symlink', target: sentinel.dir },
      { path: 'escape-rel', type: 'symlink', target: climb(sentinel.dir) },
      { path: 'escape-pts', type: 'symlink', target: `${sentinel.dir}/pts` },
      { path: 'tmp/escape-root', type: 'symlink', target: '/' },
    ]);
    expectExit(await s.lodger(['create', '--name', 'into-stopped', 'localhost/into-links', '/bin/busybox', 'sleep', '300']), 0);
    expectExit(await s.lodger(['run', '-d', '--name', 'into-live', 'localhost/into-links', '/bin/busybox', 'sleep', '300']), 0);
    const dests = ['/escape', '/escape/', '/escape/.', '/escape-rel/', '/escape-rel/sub', '/escape-pts/', '/tmp/escape-root/'];
    const landed: Record<string, string[]> = { 'into-stopped': [], 'into-live': [] };
    const tries = Object.keys(landed).flatMap((c) => dests.flatMap((d) => [src, `${src}/.`].map((from) => ({ c, d, from }))));
    const results = await Promise.all(tries.map(({ c, d, from }) => s.lodger(['cp', from, `${c}:${d}`])));
    for (const [i, { c, d, from }] of tries.entries()) {
      if (refusedOrOk(results[i], `cp ${from} ${c}:${d}`)) landed[c].push(`${from} → ${d}`);
    }
    sentinel.assertUntouched();
    expect(fs.readdirSync(path.dirname(sentinel.dir)).filter((n) => n.includes(name))).toEqual([]);
    // /tmp/escape-root is "/": the host's root must not have received the directory either.
    expect(fs.existsSync(`/${name}`)).toBe(false);
    // Whatever was copied is in the container's own files: its payload files are found there.
    expectExit(await s.lodger(['start', 'into-stopped']), 0);
    for (const c of Object.keys(landed)) {
      // -xdev: the container's root filesystem only, not /proc, /sys or /dev.
      const r = await s.lodger(['exec', c, 'sh', '-c', 'find / -xdev -type f -exec grep -l "payload from the host" {} + | wc -l']);
      expectExit(r, 0);
      expect(`${c}: ${Number(r.stdout.trim()) > 0}`).toBe(`${c}: ${landed[c].length > 0}`);
    }
  });
});
