// Parsing -v, --mount and --tmpfs as Docker reads them into mount specs — pure, so the option declarations (options.ts) may use it on the flag-parsing path.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { parseBytes } from '../cgroups/limits';

/** One mount as asked for, before its volume exists. */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** bind: the host path; volume: the name ('' for an anonymous one); tmpfs: unused. */
  source: string;
  target: string;
  readOnly: boolean;
  /** volume: do not fill a new volume from the image (volume-nocopy, -v …:nocopy). */
  noCopy?: boolean;
  propagation?: string;
  /** tmpfs: mount flags (nosuid, noexec, …) and data (size=, mode=, uid=, gid=, nr_inodes=). */
  tmpfsFlags?: string[];
  tmpfsData?: string[];
  /** volume: labels for a volume created now (--mount volume-label=). */
  labels?: Record<string, string>;
  /** The option as the user gave it, for messages. */
  given: string;
}

const PROPAGATIONS = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'];

function bad(flag: string, spec: string, why: string): LodgerError {
  return new LodgerError('BAD_MOUNT', `${flag} ${spec}: ${why}`);
}

function containerTarget(flag: string, spec: string, dst: string): string {
  if (!dst.startsWith('/')) throw bad(flag, spec, `the container path "${dst}" must be absolute`);
  const t = path.posix.normalize(dst);
  if (t === '/') throw bad(flag, spec, 'cannot mount over the container\'s "/"');
  return t.length > 1 ? t.replace(/\/$/, '') : t;
}

function checkPropagation(flag: string, spec: string, p: string): string {
  if (!PROPAGATIONS.includes(p)) throw bad(flag, spec, `unknown bind propagation "${p}" (${PROPAGATIONS.join(', ')})`);
  // A mount namespace an unprivileged user creates gets the host's mounts as slaves it may not change
  // (mount_namespaces(7), "Restrictions on mount namespaces"): sharing back to the host cannot be had.
  if (p.includes('shared')) throw bad(flag, spec, `bind propagation "${p}" would share mounts back to the host, which a rootless container cannot do — use rprivate (the default) or rslave`);
  return p;
}

/**
 * `-v SRC:DST[:OPTS]`, `-v NAME:DST[:OPTS]` and `-v DST` (an anonymous volume). A source that is absolute
 * or starts with "." is a host path; anything else names a volume (docker-run(1) --volume).
 */
export function parseVolumeFlag(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', source: '', target: containerTarget('-v', spec, parts[0]), readOnly: false, given: `-v ${spec}` };
  if (parts.length > 3) throw bad('-v', spec, 'expected [SRC:]DST[:OPTS]');
  const [src, dst, opts = ''] = parts;
  if (src === '') throw bad('-v', spec, 'the source is empty');
  const target = containerTarget('-v', spec, dst);
  const isBind = src.startsWith('/') || src.startsWith('.');
  let readOnly = false;
  let noCopy = false;
  let propagation: string | undefined;
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro' || o === 'rw') readOnly = o === 'ro';
    // SELinux relabelling: no SELinux here to relabel for (as podman without SELinux, they are accepted and do nothing).
    else if (o === 'z' || o === 'Z') continue;
    else if (o === 'nocopy' && !isBind) noCopy = true;
    else if (isBind && (o === 'rbind' || o === 'bind')) continue;
    else if (isBind && PROPAGATIONS.includes(o)) propagation = checkPropagation('-v', spec, o);
    else throw bad('-v', spec, `unknown option "${o}"`);
  }
  if (isBind) return { type: 'bind', source: path.resolve(src), target, readOnly, propagation, given: `-v ${spec}` };
  return { type: 'volume', source: src, target, readOnly, noCopy, given: `-v ${spec}` };
}

/**
 * Splits --mount's comma-separated KEY[=VALUE] list. Docker reads it as one CSV record, so a field
 * may be quoted to hold a comma; that grammar is a few lines, not worth a CSV library here.
 */
function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') { if (quoted && s[i + 1] === '"') { cur += '"'; i++; } else quoted = !quoted; }
    else if (c === ',' && !quoted) { out.push(cur); cur = ''; }
    else cur += c;
  }
  if (quoted) throw bad('--mount', s, 'unterminated quote');
  out.push(cur);
  return out;
}

function boolValue(spec: string, key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw bad('--mount', spec, `${key}=${v}: expected true or false`);
}

/** `--mount type=bind|volume|tmpfs,src=…,dst=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]`. */
export function parseMountFlag(spec: string): MountSpec {
  const kv = new Map<string, string | undefined>();
  for (const f of csvFields(spec)) {
    if (f === '') continue;
    const i = f.indexOf('=');
    kv.set((i < 0 ? f : f.slice(0, i)).trim().toLowerCase(), i < 0 ? undefined : f.slice(i + 1));
  }
  const type = kv.get('type') ?? 'volume';
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw bad('--mount', spec, `type "${type}" is not supported (bind, volume or tmpfs)${type === 'npipe' ? '' : type === 'image' || type === 'cluster' ? ': not in this version' : ''}`);
  const m: MountSpec = { type: type as MountSpec['type'], source: '', target: '', readOnly: false, given: `--mount ${spec}` };
  const labels: Record<string, string> = {};
  for (const [key, value] of kv) {
    const need = () => { if (value === undefined || value === '') throw bad('--mount', spec, `${key} needs a value`); return value; };
    switch (key) {
      case 'type': break;
      case 'src': case 'source': m.source = need(); break;
      case 'dst': case 'destination': case 'target': m.target = containerTarget('--mount', spec, need()); break;
      case 'readonly': case 'ro': m.readOnly = boolValue(spec, key, value); break;
      // Docker Desktop's macOS sharing mode: meaningless on Linux, accepted as Docker does.
      case 'consistency': break;
      case 'bind-propagation': if (type !== 'bind') throw bad('--mount', spec, 'bind-propagation is for type=bind'); m.propagation = checkPropagation('--mount', spec, need()); break;
      case 'bind-nonrecursive': if (type !== 'bind') throw bad('--mount', spec, 'bind-nonrecursive is for type=bind'); if (boolValue(spec, key, value)) throw bad('--mount', spec, 'bind-nonrecursive is not supported: a rootless bind must take the mounts below it along (mount_namespaces(7) locks them)'); break;
      case 'volume-nocopy': if (type !== 'volume') throw bad('--mount', spec, 'volume-nocopy is for type=volume'); m.noCopy = boolValue(spec, key, value); break;
      case 'volume-label': { if (type !== 'volume') throw bad('--mount', spec, 'volume-label is for type=volume'); const l = need(); labels[l.split('=')[0]] = l.split('=').slice(1).join('='); break; }
      case 'volume-driver': if (need() !== 'local') throw bad('--mount', spec, `volume driver "${value}" is not available: lodger has only "local"`); break;
      case 'volume-opt': throw bad('--mount', spec, 'volume-opt is not supported: the local driver\'s options mount a device, which needs root');
      case 'tmpfs-size': if (type !== 'tmpfs') throw bad('--mount', spec, 'tmpfs-size is for type=tmpfs'); m.tmpfsData = [...(m.tmpfsData ?? []), `size=${parseBytes(need(), 'tmpfs-size')}`]; break;
      case 'tmpfs-mode': {
        if (type !== 'tmpfs') throw bad('--mount', spec, 'tmpfs-mode is for type=tmpfs');
        const v = need();
        if (!/^0?[0-7]{1,4}$/.test(v)) throw bad('--mount', spec, `tmpfs-mode=${v}: expected an octal mode such as 1777`);
        m.tmpfsData = [...(m.tmpfsData ?? []), `mode=${v.replace(/^0(?=.)/, '').padStart(4, '0')}`];
        break;
      }
      default: throw bad('--mount', spec, `unknown key "${key}"`);
    }
  }
  if (!m.target) throw bad('--mount', spec, 'a target (dst=, target= or destination=) is required');
  if (type === 'tmpfs') {
    if (m.source) throw bad('--mount', spec, 'a tmpfs has no source');
    m.tmpfsFlags = defaultTmpfsFlags(m.readOnly);
    m.tmpfsData ??= [];
  } else if (type === 'bind') {
    if (!m.source) throw bad('--mount', spec, 'a bind mount needs src=');
    if (!m.source.startsWith('/')) throw bad('--mount', spec, `the bind source "${m.source}" must be an absolute path`);
    m.source = path.resolve(m.source);
  }
  if (Object.keys(labels).length) m.labels = labels;
  return m;
}

/** Docker mounts every tmpfs nosuid, nodev, noexec unless told otherwise (moby daemon/oci_linux.go). */
function defaultTmpfsFlags(readOnly: boolean): string[] {
  return ['nosuid', 'nodev', 'noexec', ...(readOnly ? ['ro'] : [])];
}

/** `--tmpfs /path[:opts]`, opts as mount(8) takes them for tmpfs: [r]o/rw, [no]exec, [no]suid, [no]dev, size=, mode=, uid=, gid=, nr_inodes=. */
export function parseTmpfsFlag(spec: string): MountSpec {
  const i = spec.indexOf(':');
  const dst = i < 0 ? spec : spec.slice(0, i);
  const target = containerTarget('--tmpfs', spec, dst);
  const flags = new Set(defaultTmpfsFlags(false));
  const data: string[] = [];
  for (const o of (i < 0 ? '' : spec.slice(i + 1)).split(',').filter(Boolean)) {
    const pair: Record<string, string> = { exec: 'noexec', suid: 'nosuid', dev: 'nodev', rw: 'ro' };
    if (o in pair) flags.delete(pair[o]);
    else if (['noexec', 'nosuid', 'nodev', 'ro'].includes(o)) flags.add(o);
    else if (['relatime', 'strictatime', 'noatime', 'nodiratime', 'atime', 'diratime', 'norelatime', 'sync', 'async', 'rprivate', 'private', 'rslave', 'slave'].includes(o)) continue;
    else if (/^(size|mode|uid|gid|nr_inodes|nr_blocks|huge|mpol)=.+$/.test(o)) data.push(o);
    else throw bad('--tmpfs', spec, `unknown tmpfs option "${o}"`);
  }
  return { type: 'tmpfs', source: '', target, readOnly: flags.has('ro'), tmpfsFlags: [...flags], tmpfsData: data, given: `--tmpfs ${spec}` };
}
