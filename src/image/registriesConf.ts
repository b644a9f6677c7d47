// registries.conf (containers-registries.conf(5), version 2): loading, short-name resolution, and where to pull or push a reference (location rewrites, mirrors, blocked, insecure).
//
// Files: $CONTAINERS_REGISTRIES_CONF if set, else the first of ~/.config/lodger/registries.conf and
// /etc/containers/registries.conf that exists; then the drop-ins `registries.conf.d/*.conf` beside
// it, in lexical order, merged as containers-registries.conf.d(5) says: a drop-in that sets
// unqualified-search-registries replaces the list, a [[registry]] with the same prefix replaces the
// earlier one, [aliases] merge key by key. The version 1 tables ([registries.search] etc.) are
// read too, as the man page still documents them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError, fsError } from '../errors';
import { userConfigDir } from '../config/dirs';
import { parseToml, TomlSyntaxError, type TomlTable, type TomlValue, isTable } from '../config/toml';
import {
  Reference, ReferenceParts, parseReferenceParts, normalizeParts, formatReference, familiarString,
} from './reference';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface RegistryMirror {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryEntry {
  /** What references the entry applies to: `host[:port][/path]`, or `*.domain` for every subdomain. */
  prefix: string;
  /** Where to go instead (prefix rewritten to location); equals prefix when not rewritten; empty for wildcard prefixes. */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: RegistryMirror[];
  /** The file that defined it, for messages. */
  file: string;
}

export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  registries: RegistryEntry[];
  aliases: Record<string, string>;
  /** Files read, in order; empty when none exists (then Docker's defaults apply). */
  files: string[];
}

export interface LoadRegistriesConfOptions {
  /** Read exactly this file (and its drop-ins) instead of the search path. */
  file?: string;
  home?: string;
}

export const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';

/**
 * The user's configuration directory: HOME/.config when a home is given, else $XDG_CONFIG_HOME (when
 * absolute, as the XDG Base Directory spec requires), else ~/.config.
 */
export function userRegistriesConf(home?: string): string {
  return path.join(userConfigDir(home), 'lodger', 'registries.conf');
}

function confError(file: string, why: string): LodgerError {
  return new LodgerError('REGISTRIES_CONF_INVALID', `read ${file}: ${why} — fix the file (see containers-registries.conf(5))`);
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fsError('read', file, e);
  }
}

export function emptyRegistriesConf(): RegistriesConf {
  return { unqualifiedSearchRegistries: [], registries: [], aliases: {}, files: [] };
}

/** Loads registries.conf and its drop-ins (see the file header for the search order). */
export function loadRegistriesConf(opts: LoadRegistriesConfOptions = {}): RegistriesConf {
  const candidates = opts.file
    ? [opts.file]
    : process.env.CONTAINERS_REGISTRIES_CONF
      ? [process.env.CONTAINERS_REGISTRIES_CONF]
      : [userRegistriesConf(opts.home), SYSTEM_REGISTRIES_CONF];
  const conf = emptyRegistriesConf();
  let main: string | undefined;
  for (const file of candidates) {
    const text = readIfExists(file);
    if (text === undefined) continue;
    mergeInto(conf, parseRegistriesConf(text, file));
    main = file;
    break;
  }
  const dropDir = path.join(path.dirname(main ?? candidates[0]), 'registries.conf.d');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dropDir).filter((n) => n.endsWith('.conf')).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError('read directory', dropDir, e);
  }
  for (const n of names) {
    const file = path.join(dropDir, n);
    const text = readIfExists(file);
    if (text !== undefined) mergeInto(conf, parseRegistriesConf(text, file));
  }
  return conf;
}

interface PartialConf {
  unqualifiedSearchRegistries?: string[];
  registries: RegistryEntry[];
  aliases: Record<string, string>;
  file: string;
}

function mergeInto(conf: RegistriesConf, part: PartialConf): void {
  conf.files.push(part.file);
  if (part.unqualifiedSearchRegistries) conf.unqualifiedSearchRegistries = part.unqualifiedSearchRegistries;
  for (const r of part.registries) {
    const i = conf.registries.findIndex((x) => x.prefix === r.prefix);
    if (i >= 0) conf.registries[i] = r;
    else conf.registries.push(r);
  }
  Object.assign(conf.aliases, part.aliases);
}

function str(v: TomlValue | undefined, file: string, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw confError(file, `${key} must be a string`);
  return v;
}

function bool(v: TomlValue | undefined, file: string, key: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw confError(file, `${key} must be true or false`);
  return v;
}

function strList(v: TomlValue | undefined, file: string, key: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw confError(file, `${key} must be an array of strings`);
  return v as string[];
}

/** A location or prefix as written: no scheme, no trailing slash. */
function cleanLocation(v: string, file: string, key: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw confError(file, `${key} ${JSON.stringify(v)} must not include a scheme such as https:// (use insecure = true for plain HTTP)`);
  return v.replace(/\/+$/, '');
}

/** Parses one registries.conf text; exported for tests and for `lodger info`. */
export function parseRegistriesConf(text: string, file: string): PartialConf {
  let doc: TomlTable;
  try {
    doc = parseToml(text);
  } catch (e) {
    if (e instanceof TomlSyntaxError) throw confError(file, `line ${e.line}: ${e.message}`);
    throw e;
  }
  const out: PartialConf = { registries: [], aliases: {}, file };
  out.unqualifiedSearchRegistries = strList(doc['unqualified-search-registries'], file, 'unqualified-search-registries')
    ?.map((h) => cleanLocation(h, file, 'unqualified-search-registries entry'));
  for (const h of out.unqualifiedSearchRegistries ?? []) {
    if (h.includes('/')) throw confError(file, `unqualified-search-registries entry ${JSON.stringify(h)} must be a registry host, without a path`);
  }

  const regs = doc.registry;
  if (regs !== undefined) {
    if (!Array.isArray(regs)) throw confError(file, 'registry must be an array of tables ([[registry]])');
    regs.forEach((r, i) => out.registries.push(parseRegistryEntry(r, file, i)));
  }

  if (doc.aliases !== undefined) {
    if (!isTable(doc.aliases)) throw confError(file, '[aliases] must be a table');
    for (const [k, v] of Object.entries(doc.aliases)) {
      if (typeof v !== 'string') throw confError(file, `alias ${JSON.stringify(k)} must be a string`);
      out.aliases[k] = v;
    }
  }

  // Version 1: [registries.search] registries = [...], [registries.insecure], [registries.block].
  if (isTable(doc.registries)) {
    if (out.unqualifiedSearchRegistries || regs !== undefined) throw confError(file, 'mixes the version 1 [registries.*] tables with version 2 keys');
    const v1 = doc.registries;
    const list = (name: string): string[] => {
      const t = v1[name];
      if (t === undefined) return [];
      if (!isTable(t)) throw confError(file, `[registries.${name}] must be a table`);
      return strList(t.registries, file, `registries.${name}.registries`) ?? [];
    };
    const search = list('search');
    if (search.length) out.unqualifiedSearchRegistries = search;
    const entry = (host: string): RegistryEntry => {
      let e = out.registries.find((x) => x.prefix === host);
      if (!e) { e = { prefix: host, location: host, insecure: false, blocked: false, mirrors: [], file }; out.registries.push(e); }
      return e;
    };
    for (const h of list('insecure')) entry(cleanLocation(h, file, 'registries.insecure entry')).insecure = true;
    for (const h of list('block')) entry(cleanLocation(h, file, 'registries.block entry')).blocked = true;
  }
  return out;
}

function parseRegistryEntry(r: TomlValue, file: string, i: number): RegistryEntry {
  const where = `[[registry]] #${i + 1}`;
  if (!isTable(r)) throw confError(file, `${where} must be a table`);
  const rawLocation = str(r.location, file, `${where} location`);
  const rawPrefix = str(r.prefix, file, `${where} prefix`);
  const location = rawLocation !== undefined ? cleanLocation(rawLocation, file, `${where} location`) : '';
  const prefix = rawPrefix !== undefined && rawPrefix !== '' ? cleanLocation(rawPrefix, file, `${where} prefix`) : location;
  if (prefix === '') throw confError(file, `${where} needs a prefix or a location`);
  if (prefix.startsWith('*.')) {
    if (location !== '') throw confError(file, `${where} has the wildcard prefix ${prefix}, which cannot be combined with a location`);
    if (prefix.slice(2).includes('/') || prefix.slice(2).includes('*')) throw confError(file, `${where} wildcard prefix ${prefix} must be *.domain only`);
  } else if (prefix.includes('*')) {
    throw confError(file, `${where} prefix ${prefix} may use "*" only as a leading "*."`);
  }
  const mirrorByDigestOnly = bool(r['mirror-by-digest-only'], file, `${where} mirror-by-digest-only`);
  const mirrors: RegistryMirror[] = [];
  const rawMirrors = r.mirror;
  if (rawMirrors !== undefined) {
    if (!Array.isArray(rawMirrors)) throw confError(file, `${where} mirror must be an array of tables ([[registry.mirror]])`);
    rawMirrors.forEach((m, j) => {
      const mw = `${where} mirror #${j + 1}`;
      if (!isTable(m)) throw confError(file, `${mw} must be a table`);
      const loc = str(m.location, file, `${mw} location`);
      if (!loc) throw confError(file, `${mw} needs a location`);
      const pfm = str(m['pull-from-mirror'], file, `${mw} pull-from-mirror`) ?? (mirrorByDigestOnly ? 'digest-only' : 'all');
      if (pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only') throw confError(file, `${mw} pull-from-mirror must be "all", "digest-only" or "tag-only"`);
      mirrors.push({ location: cleanLocation(loc, file, `${mw} location`), insecure: bool(m.insecure, file, `${mw} insecure`), pullFromMirror: pfm });
    });
  }
  return {
    prefix,
    location: prefix.startsWith('*.') ? '' : location || prefix,
    insecure: bool(r.insecure, file, `${where} insecure`),
    blocked: bool(r.blocked, file, `${where} blocked`),
    mirrors,
    file,
  };
}

/**
 * The entry whose prefix matches `refString` (a full reference, `host/path[:tag][@digest]`).
 * A prefix matches when the reference starts with it and the next character ends a component
 * ("/", "@", ":" after a path, or the end); the longest match wins, and exact prefixes win over
 * `*.domain` wildcards (containers-registries.conf(5), "Choosing a registry toml table").
 */
export function findRegistry(conf: RegistriesConf, refString: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  let bestScore = -1;
  const host = refString.split('/')[0];
  for (const r of conf.registries) {
    let score = -1;
    if (r.prefix.startsWith('*.')) {
      const hostname = host.replace(/:[0-9]+$/, '');
      if (hostname.endsWith(r.prefix.slice(1))) score = r.prefix.length;
    } else if (refString.startsWith(r.prefix)) {
      const next = refString.charAt(r.prefix.length);
      if (next === '' || next === '/' || next === '@' || (next === ':' && r.prefix.includes('/'))) score = 10_000 + r.prefix.length;
    }
    if (score > bestScore) { best = r; bestScore = score; }
  }
  return best;
}

/** Rewrites the `prefix` part of `ref` to `location`. */
function rewrite(ref: Reference, prefix: string, location: string): Reference {
  if (prefix.startsWith('*.') || prefix === location) return ref;
  const s = location + formatReference(ref).slice(prefix.length);
  const slash = s.indexOf('/');
  if (slash < 0) throw new LodgerError('REGISTRIES_CONF_INVALID', `rewrite ${formatReference(ref)}: location ${location} leaves no repository path — fix registries.conf`);
  return normalizeParts(parseReferenceParts(s.slice(slash + 1), s.slice(0, slash)));
}

function blockedError(op: string, ref: Reference, entry: RegistryEntry): LodgerError {
  return new LodgerError('REGISTRY_BLOCKED', `${op} ${familiarString(ref)}: registry ${entry.prefix} is blocked in ${entry.file} — use another registry or remove "blocked = true" there`);
}

export interface RegistrySource {
  /** The reference as it must be requested from this source (after location rewriting). */
  reference: Reference;
  /** Plain HTTP or unverified TLS allowed (registries.conf `insecure`). */
  insecure: boolean;
  /** True for a [[registry.mirror]]. */
  mirror: boolean;
}

/** Where to pull `ref` from, in the order to try: mirrors (as their pull-from-mirror allows), then the registry itself. */
export function pullSources(conf: RegistriesConf, ref: Reference): RegistrySource[] {
  const entry = findRegistry(conf, formatReference(ref));
  if (!entry) return [{ reference: ref, insecure: false, mirror: false }];
  if (entry.blocked) throw blockedError('pull', ref, entry);
  const out: RegistrySource[] = [];
  for (const m of entry.mirrors) {
    if (m.pullFromMirror === 'digest-only' && !ref.digest) continue;
    if (m.pullFromMirror === 'tag-only' && ref.digest) continue;
    out.push({ reference: rewrite(ref, entry.prefix.startsWith('*.') ? ref.domain : entry.prefix, m.location), insecure: m.insecure, mirror: true });
  }
  out.push({ reference: rewrite(ref, entry.prefix, entry.location), insecure: entry.insecure, mirror: false });
  return out;
}

/** Where to push `ref`: the registry itself after location rewriting (mirrors are for pulling only). */
export function pushDestination(conf: RegistriesConf, ref: Reference): RegistrySource {
  const entry = findRegistry(conf, formatReference(ref));
  if (!entry) return { reference: ref, insecure: false, mirror: false };
  if (entry.blocked) throw blockedError('push', ref, entry);
  return { reference: rewrite(ref, entry.prefix, entry.location), insecure: entry.insecure, mirror: false };
}

/** registries.conf's `insecure` for a host (TLS verification off, plain HTTP allowed). */
export function isInsecureHost(conf: RegistriesConf, host: string): boolean {
  const e = findRegistry(conf, host);
  if (e?.insecure) return true;
  return conf.registries.some((r) => r.mirrors.some((m) => m.insecure && m.location.split('/')[0] === host));
}

/**
 * The fully-qualified references a name stands for, in the order to try. A name with a registry
 * host stands for itself. A short name is looked up in [aliases] first, then tried against each
 * unqualified-search-registries entry; with none configured it means docker.io, as with Docker.
 */
export function resolveShortName(input: string, conf: RegistriesConf): Reference[] {
  const parts = parseReferenceParts(input);
  if (parts.domain !== undefined) return [normalizeParts(parts)];
  const alias = conf.aliases[parts.path];
  if (alias !== undefined) {
    let target: ReferenceParts;
    try {
      target = parseReferenceParts(alias);
    } catch (e) {
      throw new LodgerError('REGISTRIES_CONF_INVALID', `resolve ${input}: alias ${JSON.stringify(parts.path)} = ${JSON.stringify(alias)} is not a valid reference (${(e as Error).message}) — fix [aliases] in registries.conf`);
    }
    if (target.domain === undefined) {
      throw new LodgerError('REGISTRIES_CONF_INVALID', `resolve ${input}: alias ${JSON.stringify(parts.path)} = ${JSON.stringify(alias)} must name a registry host — fix [aliases] in registries.conf`);
    }
    const own = parts.tag !== undefined || parts.digest !== undefined;
    return [normalizeParts({ domain: target.domain, path: target.path, tag: own ? parts.tag : target.tag, digest: own ? parts.digest : target.digest })];
  }
  const hosts = conf.unqualifiedSearchRegistries.length ? conf.unqualifiedSearchRegistries : ['docker.io'];
  return hosts.map((domain) => normalizeParts({ ...parts, domain }));
}
