// Shared by the adversarial suite (test/security/*.test.ts): a store with busybox, hostile images, sentinels outside the container, and the syscall probe.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { makeStore, requirePrereq, requireSubids, requireTool, runLodger, type LodgerResult, type Store } from '../helpers/cli';
import { mustRun } from '../helpers/exec';
import { buildOciLayout, cachedBusybox, writeDirectoryTar, type ImageConfigSpec, type TarFileSpec } from '../helpers/fixtures';

/**
 * Whether this file's tests can run: unprivileged, a subuid range, the busybox fixture and a built CLI.
 * Outside CI a missing piece skips (with a note); in CI it throws, failing the file.
 */
export function securityPrereqs(opts: { gcc?: boolean } = {}): boolean {
  const uid = process.getuid?.() ?? 0;
  return requirePrereq(uid !== 0, 'the security suite runs as an unprivileged user (runuser -u lodgertest -- npx vitest run test/security)')
    && requireSubids()
    && requireTool('newuidmap')
    && requirePrereq(fs.existsSync('/bin/busybox'), '/bin/busybox is missing: install busybox-static')
    && (!opts.gcc || requireTool('gcc'));
}

export interface SecurityStore extends Store {
  /** lodger ARGS… against this store. */
  lodger(args: string[], opts?: { input?: string; env?: Record<string, string | undefined> }): Promise<LodgerResult>;
}

/** A fresh store holding the busybox image as `busybox`. */
export async function busyboxStore(prefix = 'lodger-sec-'): Promise<SecurityStore> {
  const store = makeStore(prefix);
  const lodger = (args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}) =>
    runLodger(args, { store, input: opts.input, env: opts.env });
  const { tar } = await cachedBusybox();
  const r = await lodger(['import', tar, 'busybox']);
  if (r.code !== 0) throw new Error(`lodger import busybox failed (${r.code}): ${r.stderr}`);
  return { ...store, lodger };
}

/**
 * Loads an image made of busybox plus one more layer of FILES (the hostile part) under NAME, through
 * `lodger load` of an OCI archive, as a user would receive it.
 */
export async function loadHostileImage(s: SecurityStore, name: string, files: TarFileSpec[], config: ImageConfigSpec = {}): Promise<void> {
  const { tar } = await cachedBusybox();
  const work = fs.mkdtempSync(path.join(s.dir, 'image-'));
  const layout = path.join(work, 'oci');
  await buildOciLayout(layout, {
    layers: [{ tarFile: tar }, { files }],
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...config },
    compression: 'none',
    tag: `localhost/${name}:latest`,
  });
  const archive = path.join(work, 'image.tar');
  await writeDirectoryTar(layout, archive);
  const r = await s.lodger(['load', '-i', archive]);
  if (r.code !== 0) throw new Error(`lodger load ${name} failed (${r.code}): ${r.stderr}`);
  fs.rmSync(work, { recursive: true, force: true });
}

interface Entry { type: string; mode: number; size: number; mtimeMs: number; content?: string; target?: string }

/** Every path under DIR with type, mode, size, mtime, content hash and link target. */
export function snapshot(dir: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    const e: Entry = {
      type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
      mode: st.mode, size: st.isDirectory() ? 0 : st.size, mtimeMs: st.mtimeMs,
    };
    if (st.isFile()) e.content = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    if (st.isSymbolicLink()) e.target = fs.readlinkSync(p);
    out[path.relative(dir, p) || '.'] = e;
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(dir);
  return out;
}

/**
 * A directory outside every container that hostile images aim at: files, a subdirectory, a file named
 * like the ones the runtime creates (null, pts…) so a write through an escaping link would show.
 */
export class Sentinel {
  readonly dir: string;
  readonly token = `sentinel-${randomBytes(6).toString('hex')}`;
  private before: Record<string, Entry> = {};

  constructor(parent: string) {
    this.dir = fs.mkdtempSync(path.join(parent, 'sentinel-'));
    fs.writeFileSync(path.join(this.dir, 'passwd'), `someuser:x:4242:4242:from the host:/:/bin/sh\n# ${this.token}\n`);
    fs.writeFileSync(path.join(this.dir, 'null'), `${this.token}\n`);
    fs.mkdirSync(path.join(this.dir, 'pts'));
    fs.writeFileSync(path.join(this.dir, 'pts', 'keep'), `${this.token}\n`);
    fs.writeFileSync(path.join(this.dir, 'hosts'), `${this.token}\n`);
    // Old mtimes: a later write, even of the same bytes, moves them.
    const old = new Date('2020-01-01T00:00:00Z');
    for (const p of ['passwd', 'null', 'pts/keep', 'hosts', 'pts', '.']) fs.utimesSync(path.join(this.dir, p), old, old);
    this.before = snapshot(this.dir);
  }

  /** Asserts nothing under the sentinel changed: same entries, contents, modes and mtimes. */
  assertUntouched(): void {
    expect(snapshot(this.dir)).toEqual(this.before);
  }
}

/** `../` enough times to climb from any container path to "/", then PATH: the relative form of an escape. */
export function climb(p: string): string {
  return '../'.repeat(24) + p.replace(/^\/+/, '');
}

let probeDir: string | undefined;
/** A directory holding `sysprobe` (test/security/sysprobe.c, built static), to bind into containers read-only. */
export async function sysprobeDir(): Promise<string> {
  if (probeDir) return probeDir;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-sysprobe-'));
  await mustRun('gcc', ['-static', '-O1', '-Wall', '-pthread', '-o', path.join(dir, 'sysprobe'), path.join(__dirname, 'sysprobe.c')], { timeoutMs: 120_000 });
  fs.chmodSync(dir, 0o755);
  probeDir = dir;
  return dir;
}

let wrapBin: string | undefined;
/**
 * A LODGER_HELPER for tests: a script that runs HELPER through helperwrap (test/security/helperwrap.c, built
 * here) with OPTIONS — a leaked fd, no close_range(2), no fd listing — to put the helper where the CLI never does.
 */
export async function wrappedHelper(dir: string, helper: string, options: string[]): Promise<string> {
  if (!wrapBin) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-helperwrap-'));
    await mustRun('gcc', ['-O1', '-Wall', '-o', path.join(out, 'helperwrap'), path.join(__dirname, 'helperwrap.c')], { timeoutMs: 120_000 });
    fs.chmodSync(out, 0o755);
    wrapBin = path.join(out, 'helperwrap');
  }
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = path.join(fs.mkdtempSync(path.join(dir, 'helperwrap-')), 'lodger-helper');
  fs.writeFileSync(script, `#!/bin/sh\nexec ${[wrapBin, ...options, helper].map(quote).join(' ')} "$@"\n`, { mode: 0o755 });
  return script;
}

/** Removes what sysprobeDir and wrappedHelper built in this test file's process (for its afterAll). */
export function removeBuiltTools(): void {
  for (const dir of [probeDir, wrapBin && path.dirname(wrapBin)]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  probeDir = wrapBin = undefined;
}

/** Parses sysprobe's "NAME RESULT" lines. */
export function probeResults(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const [name, ...rest] = line.split(' ');
    if (name) out[name] = rest.join(' ');
  }
  return out;
}

/** Fails with the command's output when it did not exit with CODE. */
export function expectExit(r: LodgerResult, code: number): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}${r.timedOut ? ' (timed out)' : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
}

/** The fields of /proc/PID/status printed by `grep` inside a container, as a map. */
export function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}
