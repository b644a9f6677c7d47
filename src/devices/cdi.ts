// CDI (Container Device Interface): finds the spec files, checks them, and turns requests like nvidia.com/gpu=all into the container edits they name.
//
// Follows container-device-interface SPEC.md: specs are JSON or YAML files (*.json, *.yaml, *.yml) in
// /etc/cdi and /var/run/cdi, the later directory taking precedence for a device both define, and two
// definitions of one device in the same directory being a conflict. A fully qualified device name is
// VENDOR/CLASS=NAME; the spec's `kind` is VENDOR/CLASS. A request for NAME "all" takes the spec's own
// device of that name where there is one (nvidia-ctk generates it), else every device of the kind.
// $LODGER_CDI_SPEC_DIRS (colon-separated) replaces the default directories.
//
// What lodger can carry out without root: device nodes are bound from the host (a user namespace
// cannot mknod(2) them, as for /dev/null), mounts are binds, env is added. Hooks would run host
// programs at container creation — lodger runs none yet, so a device that needs them is refused
// rather than half-injected; so are additionalGids, intelRdt and netDevices.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';

export const DEFAULT_CDI_SPEC_DIRS = ['/etc/cdi', '/var/run/cdi'];

export interface CdiDeviceNode { path: string; hostPath?: string; type?: string; major?: number; minor?: number; fileMode?: number; permissions?: string; uid?: number; gid?: number }
export interface CdiMount { hostPath: string; containerPath: string; type?: string; options?: string[] }
export interface CdiHook { hookName: string; path: string; args?: string[]; env?: string[]; timeout?: number }
export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  additionalGids?: number[];
  intelRdt?: unknown;
  netDevices?: unknown[];
}
export interface CdiDevice { name: string; annotations?: Record<string, string>; containerEdits?: CdiEdits }
export interface CdiSpec { cdiVersion: string; kind: string; annotations?: Record<string, string>; devices: CdiDevice[]; containerEdits?: CdiEdits }

/** One spec as read from a file: its directory's priority (index in the list) goes with it. */
export interface LoadedSpec { file: string; priority: number; spec: CdiSpec }

export interface CdiRegistry {
  dirs: string[];
  specs: LoadedSpec[];
  /** Files that could not be read or are not valid specs, with the reason (reported when they may matter). */
  broken: Array<{ file: string; error: string }>;
}

const VENDOR_RE = /^[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]$|^[A-Za-z]$/;
const CLASS_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;

/** Whether S is a fully qualified CDI device name (VENDOR/CLASS=NAME), as opposed to a host path. */
export function isCdiName(s: string): boolean {
  return !s.startsWith('/') && /^[^/=]+\/[^=]+=.+$/.test(s);
}

export function parseCdiName(s: string): { kind: string; vendor: string; cls: string; name: string } {
  const m = /^([^/=]+)\/([^=]+)=(.+)$/.exec(s);
  if (!m || !VENDOR_RE.test(m[1]) || !CLASS_RE.test(m[2]) || !NAME_RE.test(m[3])) {
    throw new LodgerError('CDI_BAD_NAME', `--device ${s}: not a valid CDI device name — use VENDOR/CLASS=NAME, e.g. nvidia.com/gpu=0 or nvidia.com/gpu=all`);
  }
  return { kind: `${m[1]}/${m[2]}`, vendor: m[1], cls: m[2], name: m[3] };
}

export function cdiSpecDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const v = env.LODGER_CDI_SPEC_DIRS;
  return v !== undefined ? v.split(':').filter(Boolean) : DEFAULT_CDI_SPEC_DIRS;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function checkEdits(e: unknown, where: string): string | undefined {
  if (e === undefined || e === null) return undefined;
  if (!isObj(e)) return `${where}: containerEdits must be a mapping`;
  if (e.env !== undefined && (!isStrArr(e.env) || e.env.some((x) => !/^[^=]+=/.test(x)))) return `${where}: env must be a list of "KEY=VALUE" strings`;
  if (e.deviceNodes !== undefined) {
    if (!Array.isArray(e.deviceNodes)) return `${where}: deviceNodes must be a list`;
    for (const d of e.deviceNodes) {
      if (!isObj(d) || typeof d.path !== 'string' || !d.path.startsWith('/')) return `${where}: every device node needs an absolute "path"`;
      if (d.hostPath !== undefined && (typeof d.hostPath !== 'string' || !d.hostPath.startsWith('/'))) return `${where}: device node ${d.path}: hostPath must be an absolute path`;
      if (d.permissions !== undefined && (typeof d.permissions !== 'string' || !/^[rwm]*$/.test(d.permissions))) return `${where}: device node ${d.path}: permissions may hold only r, w and m`;
    }
  }
  if (e.mounts !== undefined) {
    if (!Array.isArray(e.mounts)) return `${where}: mounts must be a list`;
    for (const m of e.mounts) {
      if (!isObj(m) || typeof m.hostPath !== 'string' || typeof m.containerPath !== 'string' || !m.containerPath.startsWith('/')) {
        return `${where}: every mount needs "hostPath" and an absolute "containerPath"`;
      }
      if (m.options !== undefined && !isStrArr(m.options)) return `${where}: mount ${m.containerPath}: options must be a list of strings`;
    }
  }
  if (e.hooks !== undefined && !Array.isArray(e.hooks)) return `${where}: hooks must be a list`;
  return undefined;
}

/** Checks the shape of a parsed spec; returns what is wrong, or undefined. */
export function validateSpec(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a mapping';
  if (typeof v.cdiVersion !== 'string' || !/^[01]\.\d+\.\d+$/.test(v.cdiVersion)) return `cdiVersion ${JSON.stringify(v.cdiVersion)} is not a CDI version lodger knows (0.x.y or 1.x.y)`;
  if (typeof v.kind !== 'string') return 'no "kind"';
  const [vendor, cls, extra] = v.kind.split('/');
  if (extra !== undefined || !vendor || !cls || !VENDOR_RE.test(vendor) || !CLASS_RE.test(cls)) return `kind ${JSON.stringify(v.kind)} is not VENDOR/CLASS`;
  if (!Array.isArray(v.devices) || v.devices.length === 0) return 'no devices';
  const seen = new Set<string>();
  for (const d of v.devices) {
    if (!isObj(d) || typeof d.name !== 'string' || !NAME_RE.test(d.name)) return `device name ${JSON.stringify(isObj(d) ? d.name : d)} is not valid`;
    if (seen.has(d.name)) return `device ${d.name} is defined twice`;
    seen.add(d.name);
    const bad = checkEdits(d.containerEdits, `device ${d.name}`);
    if (bad) return bad;
  }
  return checkEdits(v.containerEdits, 'spec');
}

/**
 * Parses one spec file: JSON by extension .json (or a leading "{"), else YAML 1.2 with the core schema,
 * as CDI's reference library reads specs (`nvidia-ctk cdi generate` writes YAML). Duplicate keys and
 * several documents are errors naming the line; anchors and aliases are bounded by the library's
 * alias-count limit, so a "billion laughs" file fails instead of exhausting memory.
 */
export function parseSpecText(text: string, file: string): unknown {
  if (file.endsWith('.json') || /^\s*\{/.test(text)) return JSON.parse(text);
  // Loaded here, not at the top: every `run` imports this module, few read a YAML spec.
  const { parse, YAMLParseError } = require('yaml') as typeof import('yaml');
  try {
    return parse(text, { schema: 'core', uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    if (!(e instanceof YAMLParseError)) throw e;
    const line = e.linePos?.[0].line;
    throw new LodgerError('CDI_YAML', `${line ? `line ${line}: ` : ''}${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
}

/** Reads every spec in DIRS (missing directories are fine: a host without devices has none). */
export function loadCdiRegistry(dirs = cdiSpecDirs()): CdiRegistry {
  const reg: CdiRegistry = { dirs, specs: [], broken: [] };
  dirs.forEach((dir, priority) => {
    let names: string[];
    try { names = fs.readdirSync(dir).sort(); } catch { return; }
    for (const n of names) {
      if (!/\.(json|ya?ml)$/.test(n)) continue;
      const file = path.join(dir, n);
      try {
        if (!fs.statSync(file).isFile()) continue;
        const v = parseSpecText(fs.readFileSync(file, 'utf8'), file);
        const bad = validateSpec(v);
        if (bad) { reg.broken.push({ file, error: bad }); continue; }
        reg.specs.push({ file, priority, spec: v as CdiSpec });
      } catch (e) {
        reg.broken.push({ file, error: (e as Error).message });
      }
    }
  });
  return reg;
}

export interface ResolvedDevice { name: string; file: string; spec: CdiSpec; device: CdiDevice }

/** Every device by qualified name, the highest-priority definition winning; same-priority duplicates are conflicts. */
function deviceIndex(reg: CdiRegistry): { devices: Map<string, ResolvedDevice>; conflicts: Map<string, string[]> } {
  const devices = new Map<string, ResolvedDevice & { priority: number }>();
  const conflicts = new Map<string, string[]>();
  for (const s of reg.specs) {
    for (const d of s.spec.devices) {
      const name = `${s.spec.kind}=${d.name}`;
      const have = devices.get(name);
      if (have && have.priority === s.priority) { conflicts.set(name, [have.file, s.file]); continue; }
      if (!have || s.priority > have.priority) devices.set(name, { name, file: s.file, spec: s.spec, device: d, priority: s.priority });
    }
  }
  return { devices, conflicts };
}

function brokenNote(reg: CdiRegistry): string {
  return reg.broken.length ? `; spec files that could not be used: ${reg.broken.map((b) => `${b.file} (${b.error})`).join('; ')}` : '';
}

/** The devices the requested names mean, in request order, each once. Unknown kinds and names fail, listing what exists. */
export function resolveCdiDevices(reg: CdiRegistry, requests: string[]): ResolvedDevice[] {
  const { devices, conflicts } = deviceIndex(reg);
  const out: ResolvedDevice[] = [];
  const add = (d: ResolvedDevice) => { if (!out.some((x) => x.name === d.name)) out.push(d); };
  for (const req of requests) {
    const { kind, name } = parseCdiName(req);
    const ofKind = [...devices.values()].filter((d) => d.spec.kind === kind).sort((a, b) => a.device.name.localeCompare(b.device.name, 'en', { numeric: true }));
    if (ofKind.length === 0) {
      const kinds = [...new Set([...devices.values()].map((d) => d.spec.kind))].sort();
      throw new LodgerError('CDI_UNKNOWN_KIND', `--device ${req}: no CDI spec for ${kind} in ${reg.dirs.join(', ') || '(no directories)'} — ` +
        (kinds.length ? `available kinds: ${kinds.map((k) => `${k} (${[...devices.values()].filter((d) => d.spec.kind === k).map((d) => d.device.name).join(', ')})`).join('; ')}` : 'no CDI devices are defined on this host (generate a spec, e.g. nvidia-ctk cdi generate)') +
        brokenNote(reg));
    }
    const conflict = conflicts.get(req);
    if (conflict) throw new LodgerError('CDI_CONFLICT', `--device ${req}: defined by both ${conflict[0]} and ${conflict[1]} — remove one of the definitions`);
    const hit = devices.get(req);
    if (hit) { add(hit); continue; }
    if (name === 'all') { ofKind.forEach(add); continue; }
    throw new LodgerError('CDI_UNKNOWN_DEVICE', `--device ${req}: no device "${name}" of ${kind} — available: ${ofKind.map((d) => d.name).join(', ')}, or ${kind}=all`);
  }
  return out;
}

export interface DeviceBind { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }
export interface BindSpec { source: string; destination: string; options: string[] }
export interface CdiInjection { devices: DeviceBind[]; mounts: BindSpec[]; env: string[] }

/** The edits of RESOLVED devices (each spec's own edits once, then each device's), refusing what lodger cannot do. */
export function cdiEdits(resolved: ResolvedDevice[]): CdiInjection {
  const out: CdiInjection = { devices: [], mounts: [], env: [] };
  const specsDone = new Set<CdiSpec>();
  const apply = (e: CdiEdits | undefined, who: string, file: string) => {
    if (!e) return;
    if (e.hooks?.length) {
      const h = e.hooks[0];
      throw new LodgerError('CDI_HOOKS', `CDI ${who} (${file}) needs ${e.hooks.length} hook(s) (${h.hookName}: ${h.path}${h.args?.length ? ' ' + h.args.slice(1).join(' ') : ''}) — lodger runs no OCI hooks yet; use a spec without hooks (remove them, or generate one without)`);
    }
    if (e.additionalGids?.length) throw new LodgerError('CDI_UNSUPPORTED', `CDI ${who} (${file}) adds groups (additionalGids) — lodger does not carry that edit out yet; remove it from the spec or add the groups with the image's /etc/group`);
    if (e.intelRdt) throw new LodgerError('CDI_UNSUPPORTED', `CDI ${who} (${file}) sets intelRdt — resctrl needs root; remove it from the spec`);
    if (e.netDevices?.length) throw new LodgerError('CDI_UNSUPPORTED', `CDI ${who} (${file}) moves network devices (netDevices) — that needs root; remove it from the spec`);
    for (const kv of e.env ?? []) out.env.push(kv);
    for (const d of e.deviceNodes ?? []) {
      out.devices.push({ PathOnHost: d.hostPath ?? d.path, PathInContainer: d.path, CgroupPermissions: d.permissions || 'rwm' });
    }
    for (const m of e.mounts ?? []) {
      if (m.type && !['bind', 'rbind', 'none'].includes(m.type)) {
        throw new LodgerError('CDI_UNSUPPORTED', `CDI ${who} (${file}): mount ${m.containerPath} of type ${m.type} — lodger carries out bind mounts only`);
      }
      out.mounts.push({ source: m.hostPath, destination: m.containerPath, options: m.options ?? [] });
    }
  };
  for (const r of resolved) {
    if (!specsDone.has(r.spec)) { specsDone.add(r.spec); apply(r.spec.containerEdits, `spec ${r.spec.kind}`, r.file); }
    apply(r.device.containerEdits, `device ${r.name}`, r.file);
  }
  return out;
}
