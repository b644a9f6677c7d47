// The container's security settings: --cap-add/--cap-drop/--privileged/--security-opt checked at create, and the helper records that carry them out.
import * as fs from 'node:fs';
import { LodgerError, fsError } from '../errors';
import { checkCapabilityOptions, capabilityRecord, containerCapabilities, processCapabilities } from './capabilities';
import type { SecurityRecord } from '../helper/plan';
import { compileSeccomp, defaultSeccompProfile, parseSeccompProfile, seccompRecords, type SeccompProfile } from './seccompProfile';

/** The parts of a container's HostConfig that decide its privileges. */
export interface SecurityConfig { CapAdd: string[]; CapDrop: string[]; Privileged: boolean; SecurityOpt: string[] }

export interface SecuritySettings {
  noNewPrivileges: boolean;
  /** 'default' (lodger's profile), 'unconfined', or a profile given with seccomp=FILE. */
  seccomp: 'default' | 'unconfined' | SeccompProfile;
  /** systempaths=unconfined: /proc and /sys paths are neither masked nor read-only. */
  unmaskSystemPaths: boolean;
}

function badOpt(opt: string, why: string): LodgerError {
  return new LodgerError('BAD_SECURITY_OPT', `--security-opt ${opt}: ${why}`);
}

function parseBool(opt: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badOpt(opt, `expected true or false, not "${v}"`);
}

/**
 * One --security-opt value. `seccomp=FILE` is read here, at create, and kept in the record as
 * `seccomp={…json…}` as Docker's CLI does: the container keeps the profile it was created with.
 */
function parseOne(opt: string, readFile: (f: string) => string): { stored: string; apply: (s: SecuritySettings) => void } {
  const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
  if (!m) throw badOpt(opt, 'expected KEY or KEY=VALUE (no-new-privileges, seccomp=unconfined|FILE, systempaths=unconfined)');
  const [, key, value] = m;
  switch (key) {
    case 'no-new-privileges': {
      const on = value === undefined ? true : parseBool(opt, value);
      return { stored: `no-new-privileges=${on}`, apply: (s) => { s.noNewPrivileges = on; } };
    }
    case 'seccomp': {
      if (!value) throw badOpt(opt, 'give seccomp=unconfined or seccomp=/path/to/profile.json');
      if (value === 'unconfined') return { stored: 'seccomp=unconfined', apply: (s) => { s.seccomp = 'unconfined'; } };
      if (value.trimStart().startsWith('{')) {
        const profile = parseSeccompProfile(value, 'given inline');
        return { stored: `seccomp=${JSON.stringify(profile)}`, apply: (s) => { s.seccomp = profile; } };
      }
      const profile = parseSeccompProfile(readFile(value), value);
      return { stored: `seccomp=${JSON.stringify(profile)}`, apply: (s) => { s.seccomp = profile; } };
    }
    case 'systempaths': {
      if (value !== 'unconfined') throw badOpt(opt, 'only systempaths=unconfined is known');
      return { stored: 'systempaths=unconfined', apply: (s) => { s.unmaskSystemPaths = true; } };
    }
    case 'apparmor':
    case 'label':
      // Not applied by lodger (no LSM profiles are loaded for rootless containers); accepted so Docker
      // command lines that only turn them off keep working.
      if (value === 'unconfined' || value === 'disable') return { stored: `${key}=${value}`, apply: () => undefined };
      throw badOpt(opt, `lodger does not apply ${key === 'apparmor' ? 'AppArmor profiles' : 'SELinux labels'}; only ${key}=${key === 'apparmor' ? 'unconfined' : 'disable'} is accepted`);
    default:
      throw badOpt(opt, 'unknown option (lodger knows no-new-privileges, seccomp=unconfined|FILE, systempaths=unconfined)');
  }
}

function readProfile(file: string): string {
  try { return fs.readFileSync(file, 'utf8'); } catch (e) { throw fsError('read the seccomp profile', file, e, 'check the path given to --security-opt seccomp='); }
}

/**
 * Checks --cap-add, --cap-drop and --security-opt before anything is created (each mistake is a LodgerError,
 * exit 125) and returns the SecurityOpt list to record.
 */
export function checkSecurityOptions(o: { capAdd: string[]; capDrop: string[]; securityOpt: string[] }, readFile = readProfile): string[] {
  checkCapabilityOptions(o);
  return o.securityOpt.map((opt) => parseOne(opt, readFile).stored);
}

/** The settings recorded in a container's SecurityOpt (checked at create; a profile is recorded inline, but a
 * record that names a file, from an older lodger, still works while the file is there). */
export function securitySettings(securityOpt: string[], readFile = readProfile): SecuritySettings {
  const s: SecuritySettings = { noNewPrivileges: false, seccomp: 'default', unmaskSystemPaths: false };
  for (const opt of securityOpt) parseOne(opt, readFile).apply(s);
  return s;
}

/**
 * The helper records for a process of the container running as UID — its first process, or one started by
 * `exec` (which must get the same: a process joining the namespaces otherwise holds every capability of
 * them and no filter): its capability sets, no_new_privs, and the seccomp filter. A --privileged container
 * gets every capability and no filter unless one is named (as Docker); `exec --privileged` (EXEC_PRIVILEGED)
 * gets every capability but keeps the container's filter.
 */
export function securityRecords(hc: SecurityConfig, uid: number, opts: { execPrivileged?: boolean } = {}): SecurityRecord[] {
  const settings = securitySettings(hc.SecurityOpt ?? []);
  const containerCaps = containerCapabilities({ capAdd: hc.CapAdd ?? [], capDrop: hc.CapDrop ?? [], privileged: hc.Privileged });
  const caps = opts.execPrivileged ? containerCapabilities({ capAdd: [], capDrop: [], privileged: true }) : containerCaps;
  const records: SecurityRecord[] = [capabilityRecord(processCapabilities(caps, uid))];
  if (settings.noNewPrivileges) records.push(['no-new-privileges']);
  let profile: SeccompProfile | undefined;
  if (settings.seccomp === 'default') profile = hc.Privileged ? undefined : defaultSeccompProfile();
  else if (settings.seccomp !== 'unconfined') profile = settings.seccomp;
  // The filter is the container's, as it was made for the container's capabilities.
  if (profile) {
    const rules = seccompRecords(compileSeccomp(profile, { capabilities: containerCaps }));
    records.push(...rules);
    const cache = seccompCachePath(rules);
    if (cache) records.push(['seccomp-cache', cache]);
  }
  return records;
}

/**
 * Where the helper keeps the BPF program compiled from these rules: named by their hash, in the
 * private runtime dir, so each start after the first loads it instead of compiling the profile again.
 */
function seccompCachePath(rules: SecurityRecord[]): string | undefined {
  try {
    const { runtimeDir } = require('../storage/paths') as typeof import('../storage/paths');
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const dir = require('node:path').join(runtimeDir(), 'seccomp') as string;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = crypto.createHash('sha256').update(process.arch).update(JSON.stringify(rules)).digest('hex');
    return `${dir}/${key}.bpf`;
  } catch {
    return undefined;
  }
}
