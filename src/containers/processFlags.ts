// The process and namespace flags of run/create as Docker reads them: --ulimit, --sysctl, --pid/--ipc/--uts, --group-add, --stop-signal/--stop-timeout, --shm-size, --cidfile.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { parseBytes } from '../cgroups/limits';
import { signalNumber } from './lifecycle';

export interface Ulimit { Name: string; Soft: number; Hard: number }

/** /proc/self/limits' rows by the names --ulimit uses (proc(5)). */
const LIMIT_ROWS: Record<string, string> = {
  core: 'Max core file size', cpu: 'Max cpu time', data: 'Max data size', fsize: 'Max file size', locks: 'Max file locks',
  memlock: 'Max locked memory', msgqueue: 'Max msgqueue size', nice: 'Max nice priority', nofile: 'Max open files',
  nproc: 'Max processes', rss: 'Max resident set', rtprio: 'Max realtime priority', rttime: 'Max realtime timeout',
  sigpending: 'Max pending signals', stack: 'Max stack size', as: 'Max address space',
};

/** -1 stands for unlimited (RLIM_INFINITY), as in Docker's HostConfig.Ulimits. */
const UNLIMITED = -1;

function limitValue(spec: string, v: string): number {
  if (v === 'unlimited' || v === '-1') return UNLIMITED;
  if (!/^\d+$/.test(v)) throw new LodgerError('BAD_ULIMIT', `--ulimit ${spec}: "${v}" is not a number (or -1/unlimited)`);
  return Number(v);
}

/** Our own hard limits (what the container's root may not exceed: setrlimit(2) needs CAP_SYS_RESOURCE in the initial user namespace for that). */
export function hardLimits(text = fs.readFileSync('/proc/self/limits', 'utf8')): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, row] of Object.entries(LIMIT_ROWS)) {
    const line = text.split('\n').find((l) => l.startsWith(row + ' '));
    if (!line) continue;
    const cols = line.slice(row.length).trim().split(/\s+/);
    out.set(name, cols[1] === 'unlimited' ? UNLIMITED : Number(cols[1]));
  }
  return out;
}

/** `--ulimit NAME=SOFT[:HARD]` (docker-run(1)); a limit above our own hard one is refused here, with the figure. */
export function parseUlimits(specs: string[], hard = hardLimits()): Ulimit[] {
  const seen = new Map<string, Ulimit>();
  for (const spec of specs) {
    const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(spec);
    if (!m) throw new LodgerError('BAD_ULIMIT', `--ulimit ${spec}: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048`);
    const name = m[1];
    if (!(name in LIMIT_ROWS)) throw new LodgerError('BAD_ULIMIT', `--ulimit ${spec}: unknown limit "${name}" (${Object.keys(LIMIT_ROWS).join(', ')})`);
    const soft = limitValue(spec, m[2]);
    const hardWanted = m[3] === undefined ? soft : limitValue(spec, m[3]);
    const above = (a: number, b: number) => (a === UNLIMITED ? b !== UNLIMITED : b !== UNLIMITED && a > b);
    if (above(soft, hardWanted)) throw new LodgerError('BAD_ULIMIT', `--ulimit ${spec}: the soft limit is above the hard one`);
    const mine = hard.get(name);
    if (mine !== undefined && above(hardWanted, mine)) {
      const show = (n: number) => (n === UNLIMITED ? 'unlimited' : String(n));
      throw new LodgerError('ULIMIT_ABOVE_HARD', `--ulimit ${spec}: ${show(hardWanted)} is above your hard limit for ${name} (${show(mine)}); an unprivileged container cannot raise it — ask for at most ${show(mine)}, or have the administrator raise yours (limits.conf(5))`);
    }
    seen.set(name, { Name: name, Soft: soft, Hard: hardWanted });
  }
  return [...seen.values()];
}

/** The plan's "rlimit" record arguments for U (name, soft, hard; -1 is "unlimited"). */
export function rlimitArgs(u: Ulimit): [string, string, string] {
  const v = (n: number) => (n === UNLIMITED ? 'unlimited' : String(n));
  return [u.Name, v(u.Soft), v(u.Hard)];
}

/** Docker's namespaced sysctls (moby's validator): those the container's own IPC or network namespace holds. */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

export function parseSysctls(specs: string[], modes: { network: string; ipc: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const i = spec.indexOf('=');
    if (i <= 0) throw new LodgerError('BAD_SYSCTL', `--sysctl ${spec}: expected KEY=VALUE`);
    const key = spec.slice(0, i).replace(/\//g, '.');
    const value = spec.slice(i + 1);
    if (!/^[a-z0-9_.-]+$/i.test(key) || key.split('.').includes('..') || key.includes('..')) throw new LodgerError('BAD_SYSCTL', `--sysctl ${spec}: "${key}" is not a sysctl name`);
    const ipc = IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.');
    const net = key.startsWith('net.');
    if (!ipc && !net) {
      throw new LodgerError('SYSCTL_NOT_NAMESPACED', `--sysctl ${spec}: ${key} is not namespaced — it would change the host, which a container may not; only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* are allowed (sysctl(8))`);
    }
    if (ipc && modes.ipc === 'host') throw new LodgerError('SYSCTL_NOT_NAMESPACED', `--sysctl ${spec}: with --ipc host ${key} is the host's IPC namespace's — not allowed`);
    if (ipc && modes.ipc.startsWith('container:')) throw new LodgerError('SYSCTL_NOT_NAMESPACED', `--sysctl ${spec}: with --ipc ${modes.ipc} the IPC namespace is not the container's own — not allowed`);
    if (net && (modes.network === 'host' || modes.network.startsWith('container:'))) {
      throw new LodgerError('SYSCTL_NOT_NAMESPACED', `--sysctl ${spec}: with --network ${modes.network} the network namespace is not the container's own — not allowed`);
    }
    out[key] = value;
  }
  return out;
}

/** `--pid`, `--ipc`, `--uts`: '' (private), 'host', 'private'/'shareable' (--ipc), 'container:X'. */
export function checkNamespaceMode(flag: '--pid' | '--ipc' | '--uts', mode: string | undefined): string {
  const m = mode ?? '';
  const allowed = flag === '--ipc' ? ['', 'host', 'private', 'shareable', 'none'] : flag === '--pid' ? ['', 'host'] : ['', 'host'];
  if (allowed.includes(m)) return m;
  // container:X: X is looked up when the container starts (sharedNamespaces.ts), as Docker does.
  if (m.startsWith('container:') && m.length > 'container:'.length && flag !== '--uts') return m;
  throw new LodgerError('NS_MODE', `${flag} ${m}: expected ${allowed.filter(Boolean).join(', ')}${flag !== '--uts' ? ' or container:NAME' : ''}`);
}

/** `--stop-signal`: a name or number the kernel knows, kept as given (inspect shows Config.StopSignal). */
export function checkStopSignal(sig: string | undefined): string | undefined {
  if (sig === undefined) return undefined;
  signalNumber(sig);
  return sig;
}

/** `--stop-timeout N` seconds (-1: wait for ever, as Docker). */
export function parseStopTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < -1) throw new LodgerError('BAD_OPTIONS', `--stop-timeout ${v}: expected whole seconds (or -1 for no limit)`);
  return Number(v);
}

/** `--shm-size`: bytes for /dev/shm's tmpfs (Docker's default 64 MiB). */
export function parseShmSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseBytes(v, '--shm-size');
  if (n <= 0) throw new LodgerError('BAD_OPTIONS', `--shm-size ${v}: must be more than 0`);
  return n;
}

/** Docker's json-file options lodger's log honours: max-size (bytes) and max-file (how many files, ≥ 1). */
export function parseLogOpts(opts: string[]): { Type: 'json-file'; Config: Record<string, string> } | undefined {
  if (opts.length === 0) return undefined;
  const config: Record<string, string> = {};
  for (const o of opts) {
    const i = o.indexOf('=');
    const [k, v] = i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
    if (k === 'max-size') {
      const n = parseBytes(v, '--log-opt max-size');
      if (n <= 0) throw new LodgerError('BAD_LOG_OPT', `--log-opt ${o}: must be more than 0`);
      if (n > 0xffffffff) throw new LodgerError('BAD_LOG_OPT', `--log-opt ${o}: at most 4g`);
      config[k] = String(n);
    } else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 255) throw new LodgerError('BAD_LOG_OPT', `--log-opt ${o}: expected a whole number from 1 to 255`);
      config[k] = v;
    } else {
      throw new LodgerError('BAD_LOG_OPT', `--log-opt ${o}: lodger's log honours max-size and max-file only (labels, env, tag and compress are not kept)`);
    }
  }
  if (config['max-file'] && !config['max-size']) throw new LodgerError('BAD_LOG_OPT', '--log-opt max-file needs max-size: without a size the log is never rotated');
  return { Type: 'json-file', Config: config };
}

/** `--cidfile`: refused when the file exists (Docker's "Container ID file found"); written once the container exists. */
export function checkCidfile(file: string | undefined): void {
  if (file && fs.existsSync(file)) {
    throw new LodgerError('CIDFILE_EXISTS', `--cidfile ${file}: the file exists already — make sure the other container is not running, or delete it`);
  }
}

export function writeCidfile(file: string | undefined, id: string): void {
  if (!file) return;
  try {
    fs.writeFileSync(file, id, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    const { fsError } = require('../errors') as typeof import('../errors');
    throw fsError('write --cidfile', file, e);
  }
}
