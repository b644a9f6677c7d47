// `top`: the processes of a running container, read from the host's /proc (proc(5)) and shown as `ps` shows them.
//
// A container's processes are those in its init's pid namespace: /proc/PID/ns/pid names the same
// namespace (nsfs inode) for each of them. Reading that link needs ptrace-read access, which we have
// as the owner of the container's user namespace. Users are shown as the container knows them: the
// host uid mapped back through the init's uid_map, named from the container's /etc/passwd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { readImageFile } from '../image/layerLookup';
import { containerDir, liveState, readContainer, readState, resolveContainer, type ContainerRecord } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { imageReadDirs } from './imageLayers';

/** sysconf(_SC_CLK_TCK): 100 on every Linux architecture Node runs on (USER_HZ). */
const HZ = 100;

export interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  state: string;
  ttyNr: number;
  /** CPU time in clock ticks (utime + stime). */
  cpuTicks: number;
  /** Seconds since the epoch. */
  start: number;
  vszKiB: number;
  rssKiB: number;
  comm: string;
  args: string;
}

function read(file: string): string | undefined {
  try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; }
}

function bootTime(): number {
  const m = /^btime (\d+)$/m.exec(read('/proc/stat') ?? '');
  return m ? Number(m[1]) : 0;
}

/** Container uid for host uid HOST under the uid_map text MAP, or undefined when unmapped. */
function insideId(map: string, host: number): number | undefined {
  for (const line of map.trim().split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (host >= outside && host < outside + count) return inside + (host - outside);
  }
  return undefined;
}

function viewLayers(p: StorePaths, rec: ContainerRecord): string[] {
  const dir = containerDir(p, rec.Id);
  if (rec.Driver === 'vfs') return [path.join(dir, 'rootfs')];
  return [path.join(dir, 'upper'), ...imageReadDirs(p, rec)];
}

function readProc(pid: number, boot: number, names: Map<number, string>, uidMap: string): ProcInfo | undefined {
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (!stat || !status) return undefined;  // exited meanwhile
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  // Fields after "(comm)": state is field 3 of proc(5), so f[i] is field i + 3.
  const f = stat.slice(close + 2).split(' ');
  const hostUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const uid = insideId(uidMap, hostUid) ?? hostUid;
  const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
  return {
    pid,
    ppid: Number(f[1]),
    uid,
    user: names.get(uid) ?? String(uid),
    state: f[0],
    ttyNr: Number(f[4]),
    cpuTicks: Number(f[11]) + Number(f[12]),
    start: boot + Number(f[19]) / HZ,
    vszKiB: Math.round(Number(f[20]) / 1024),
    rssKiB: Number(f[21]) * 4,
    comm,
    args: cmdline || `[${comm}]`,
  };
}

/** The processes of container REF, in pid order. */
export function containerProcesses(p: StorePaths, ref: string): ProcInfo[] {
  const id = resolveContainer(p, ref);
  const rec = readContainer(p, id);
  if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ref}`);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `container ${rec.Name} is not running — start it first ("lodger start ${rec.Name}")`);
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${st.Pid}/ns/pid`);
  } catch (e) {
    throw new LodgerError('TOP_FAILED', `top ${rec.Name}: read /proc/${st.Pid}/ns/pid: ${(e as NodeJS.ErrnoException).code} — is the container still running?`);
  }
  const names = new Map<number, string>();
  for (const line of (readImageFile(viewLayers(p, rec), '/etc/passwd') ?? '').split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid !== undefined && /^\d+$/.test(uid) && !names.has(Number(uid))) names.set(Number(uid), name);
  }
  const uidMap = read(`/proc/${st.Pid}/uid_map`) ?? '';
  const boot = bootTime();
  const out: ProcInfo[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let link: string;
    try { link = fs.readlinkSync(`/proc/${e}/ns/pid`); } catch { continue; }  // not ours to see, or gone
    if (link !== ns) continue;
    const info = readProc(Number(e), boot, names, uidMap);
    if (info) out.push(info);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** ps's TIME: cumulative CPU as [DD-]HH:MM:SS. */
function cpuTime(ticks: number): string {
  const s = Math.floor(ticks / HZ);
  const d = Math.floor(s / 86400);
  return `${d ? `${d}-` : ''}${two(Math.floor((s % 86400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** ps's ELAPSED: [[DD-]HH:]MM:SS. */
function elapsed(start: number, now: number): string {
  const s = Math.max(0, Math.floor(now - start));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const body = `${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return d ? `${d}-${two(h)}:${body}` : h ? `${two(h)}:${body}` : body;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ps's STIME: HH:MM for today, else MonDD (local time). */
function startTime(start: number, now: number): string {
  const d = new Date(start * 1000);
  const n = new Date(now * 1000);
  if (d.toDateString() === n.toDateString()) return `${two(d.getHours())}:${two(d.getMinutes())}`;
  return `${MONTHS[d.getMonth()]}${two(d.getDate())}`;
}

/** ps's TTY: the terminal from tty_nr (major 136–143: Unix98 ptys; 4: virtual consoles), else "?". */
function ttyName(nr: number): string {
  if (nr === 0) return '?';
  const major = (nr >> 8) & 0xfff;
  const minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  return '?';
}

function cpuPercent(pi: ProcInfo, now: number): number {
  const secs = now - pi.start;
  return secs > 0 ? (pi.cpuTicks / HZ / secs) * 100 : 0;
}

interface Column { header: string; value: (pi: ProcInfo, now: number) => string }

const MEM_KIB = (() => {
  const m = /^MemTotal:\s+(\d+)/m.exec(read('/proc/meminfo') ?? '');
  return m ? Number(m[1]) : 0;
})();

/** ps -o field names (procps' and busybox's common ones) and their columns. */
const FIELDS: Record<string, Column> = {
  user: { header: 'USER', value: (pi) => pi.user },
  uid: { header: 'UID', value: (pi) => String(pi.uid) },
  pid: { header: 'PID', value: (pi) => String(pi.pid) },
  ppid: { header: 'PPID', value: (pi) => String(pi.ppid) },
  c: { header: 'C', value: (pi, now) => String(Math.floor(cpuPercent(pi, now))) },
  pcpu: { header: '%CPU', value: (pi, now) => cpuPercent(pi, now).toFixed(1) },
  pmem: { header: '%MEM', value: (pi) => (MEM_KIB ? ((pi.rssKiB / MEM_KIB) * 100).toFixed(1) : '0.0') },
  vsz: { header: 'VSZ', value: (pi) => String(pi.vszKiB) },
  rss: { header: 'RSS', value: (pi) => String(pi.rssKiB) },
  tty: { header: 'TTY', value: (pi) => ttyName(pi.ttyNr) },
  stat: { header: 'STAT', value: (pi) => pi.state },
  stime: { header: 'STIME', value: (pi, now) => startTime(pi.start, now) },
  time: { header: 'TIME', value: (pi) => cpuTime(pi.cpuTicks) },
  etime: { header: 'ELAPSED', value: (pi, now) => elapsed(pi.start, now) },
  comm: { header: 'COMMAND', value: (pi) => pi.comm },
  args: { header: 'COMMAND', value: (pi) => pi.args },
};
const ALIASES: Record<string, string> = { '%cpu': 'pcpu', '%mem': 'pmem', cmd: 'args', command: 'args', start: 'stime', start_time: 'stime', ucomm: 'comm', euser: 'user', ruser: 'user', tt: 'tty', s: 'stat', state: 'stat', cputime: 'time', etimes: 'etime', uname: 'user' };

const PS_EF = ['user:UID', 'pid', 'ppid', 'c', 'stime', 'tty', 'time', 'args:CMD'];
const PS_AUX = ['user', 'pid', 'pcpu', 'pmem', 'vsz', 'rss', 'tty', 'stat', 'stime:START', 'time', 'args'];

/**
 * The columns `ps PSARGS` would print: none or -ef/-f/-e give `ps -ef`'s, aux gives `ps aux`'s, and
 * -o FIELD[,FIELD…] (FIELD[=HEADER]) picks them. Other ps options have no meaning here.
 */
export function topColumns(psArgs: string[]): Column[] {
  let spec: string[] = PS_EF;
  for (let i = 0; i < psArgs.length; i++) {
    const a = psArgs[i];
    if (['-ef', '-e', '-f', '-A', '-eF', '-ely', '-el'].includes(a)) continue;
    if (['aux', '-aux', 'au', 'ax', 'u'].includes(a)) { spec = PS_AUX; continue; }
    let list: string | undefined;
    if (a === '-o' || a === '--format' || a === 'o') list = psArgs[++i];
    else if (a.startsWith('-o')) list = a.slice(2).replace(/^=/, '');
    if (list === undefined) throw new LodgerError('TOP_USAGE', `top: ps option ${JSON.stringify(a)} is not supported — use -ef (the default), aux, or -o FIELD,FIELD…`);
    spec = (spec === PS_EF || spec === PS_AUX ? [] : spec).concat(list.split(/[,\s]+/).filter(Boolean));
  }
  return spec.map((s) => {
    const [rawName, header] = [s.split(/[:=]/)[0], s.includes('=') ? s.slice(s.indexOf('=') + 1) : s.includes(':') ? s.slice(s.indexOf(':') + 1) : undefined];
    const name = ALIASES[rawName.toLowerCase()] ?? rawName.toLowerCase();
    const col = FIELDS[name];
    if (!col) throw new LodgerError('TOP_USAGE', `top: unknown ps field "${rawName}" — known: ${Object.keys(FIELDS).join(', ')}`);
    return header !== undefined ? { ...col, header } : col;
  });
}

/** `docker top`'s answer: the titles and one row of strings per process. */
export function topTable(procs: ProcInfo[], psArgs: string[], now = Date.now() / 1000): { Titles: string[]; Processes: string[][] } {
  const cols = topColumns(psArgs);
  return { Titles: cols.map((c) => c.header), Processes: procs.map((pi) => cols.map((c) => c.value(pi, now))) };
}
