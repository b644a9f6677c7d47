// Linux capabilities of the container's process: names and numbers, Docker's default set, --cap-add/--cap-drop/--privileged, and the five sets per user.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { CAPABILITIES, capabilityName } from '../helper/capabilityNames';
import type { SecurityRecord } from '../helper/plan';

export { CAPABILITIES, capabilityName };

/**
 * What Docker gives a container that asks for nothing: enough to behave like root over the container's own
 * files and processes, nothing that reaches the kernel's global state. Inside lodger's user namespace every
 * one of them is further limited to objects that namespace owns (user_namespaces(7)).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** The capabilities this kernel knows: CAP_CHOWN … /proc/sys/kernel/cap_last_cap (capabilities(7)). */
export function kernelCapabilities(): string[] {
  let last = CAPABILITIES.length - 1;
  try {
    const n = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    if (Number.isInteger(n) && n >= 0) last = Math.min(n, CAPABILITIES.length - 1);
  } catch { /* an older or odd /proc: the helper skips what the kernel does not know */ }
  return CAPABILITIES.slice(0, last + 1);
}

/** `sys_admin`, `CAP_SYS_ADMIN`, `Sys_Admin` → `CAP_SYS_ADMIN`; `all` → `ALL`. FLAG names the option in the error. */
export function normalizeCapability(name: string, flag = '--cap-add'): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!CAPABILITIES.includes(full)) {
    throw new LodgerError('BAD_CAPABILITY', `${flag} ${name}: unknown capability — use a name from capabilities(7) such as NET_ADMIN or CAP_SYS_PTRACE, or ALL`);
  }
  return full;
}

export interface CapabilityOptions { capAdd: string[]; capDrop: string[]; privileged: boolean }

/** Checks every --cap-add/--cap-drop value; throws a LodgerError (exit 125) naming the first bad one. */
export function checkCapabilityOptions(o: Pick<CapabilityOptions, 'capAdd' | 'capDrop'>): void {
  for (const c of o.capAdd) normalizeCapability(c, '--cap-add');
  for (const c of o.capDrop) normalizeCapability(c, '--cap-drop');
}

/**
 * The container's capability set with Docker's rules: --privileged gives every capability the kernel knows;
 * `--cap-add ALL` starts from all of them, `--cap-drop ALL` from none; otherwise the defaults less the drops
 * plus the adds. Drops win over ALL in --cap-add; adds win over ALL in --cap-drop.
 */
export function containerCapabilities(o: CapabilityOptions, known: readonly string[] = kernelCapabilities()): string[] {
  if (o.privileged) return [...known];
  const add = new Set(o.capAdd.map((c) => normalizeCapability(c, '--cap-add')));
  const drop = new Set(o.capDrop.map((c) => normalizeCapability(c, '--cap-drop')));
  let base: string[];
  if (add.has('ALL')) base = known.filter((c) => !drop.has(c));
  else if (drop.has('ALL')) base = [...add];
  else base = [...DEFAULT_CAPABILITIES.filter((c) => !drop.has(c)), ...add];
  // Only what this kernel has, once each, in number order (a stable record and stable `inspect` output).
  return known.filter((c) => base.includes(c));
}

export interface CapabilitySets { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] }

/**
 * The five sets of the process (capabilities(7)) as Docker sets them: root gets CAPS bounding, permitted
 * and effective; any other user only the bounding set, so file capabilities (setcap) and setuid-root
 * binaries can reach CAPS and nothing more. Inheritable and ambient stay empty: an inheritable set let
 * file-inheritable binaries gain capabilities across exec for non-root users (CVE-2022-24769).
 */
export function processCapabilities(caps: readonly string[], uid: number): CapabilitySets {
  const root = uid === 0;
  return { bounding: [...caps], effective: root ? [...caps] : [], permitted: root ? [...caps] : [], inheritable: [], ambient: [] };
}

/** The bit mask of NAMES (bit N = capability N), as /proc/PID/status shows CapBnd/CapEff. */
export function capabilityMask(names: readonly string[]): bigint {
  let m = 0n;
  for (const n of names) {
    const i = CAPABILITIES.indexOf(n);
    if (i >= 0) m |= 1n << BigInt(i);
  }
  return m;
}

/** The helper's record: `caps BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT`, each a comma-separated list of numbers. */
export function capabilityRecord(s: CapabilitySets): SecurityRecord {
  const nums = (names: string[]) => names.map((n) => CAPABILITIES.indexOf(n)).filter((i) => i >= 0).join(',');
  return ['caps', nums(s.bounding), nums(s.effective), nums(s.permitted), nums(s.inheritable), nums(s.ambient)];
}
