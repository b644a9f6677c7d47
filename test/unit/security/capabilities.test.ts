// Unit tests for capability names, Docker's --cap-add/--cap-drop/--privileged rules, the per-user sets, and the helper record.
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import {
  CAPABILITIES, DEFAULT_CAPABILITIES, capabilityMask, capabilityName, capabilityRecord, checkCapabilityOptions,
  containerCapabilities, normalizeCapability, processCapabilities,
} from '../../../src/security/capabilities';

const known = CAPABILITIES.slice(0, 41);
const caps = (capAdd: string[] = [], capDrop: string[] = [], privileged = false) => containerCapabilities({ capAdd, capDrop, privileged }, known);

function thrown(fn: () => unknown): LodgerError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(LodgerError); return e as LodgerError; }
  throw new Error('expected a LodgerError');
}

describe('capability names', () => {
  it('are numbered as in linux/capability.h', () => {
    expect(CAPABILITIES.indexOf('CAP_CHOWN')).toBe(0);
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_SETFCAP')).toBe(31);
    expect(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(capabilityName(21)).toBe('CAP_SYS_ADMIN');
    expect(capabilityName(63)).toBe('capability 63');
  });

  it('are accepted with or without CAP_, in any case; ALL is special', () => {
    expect(normalizeCapability('chown')).toBe('CAP_CHOWN');
    expect(normalizeCapability('CAP_SYS_ADMIN')).toBe('CAP_SYS_ADMIN');
    expect(normalizeCapability(' Net_Raw ')).toBe('CAP_NET_RAW');
    expect(normalizeCapability('all')).toBe('ALL');
  });

  it('unknown names are a LodgerError with exit 125 naming the option and the value', () => {
    const e = thrown(() => normalizeCapability('SYS_FOO', '--cap-drop'));
    expect(e.code).toBe('BAD_CAPABILITY');
    expect(e.exitCode).toBe(125);
    expect(e.message).toBe('--cap-drop SYS_FOO: unknown capability — use a name from capabilities(7) such as NET_ADMIN or CAP_SYS_PTRACE, or ALL');
    expect(thrown(() => checkCapabilityOptions({ capAdd: ['chown', 'CAP_'], capDrop: [] })).message).toMatch(/^--cap-add CAP_: unknown capability/);
  });
});

describe("Docker's capability rules", () => {
  it('the default set is the 14 Docker gives, mask a80425fb', () => {
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(capabilityMask(DEFAULT_CAPABILITIES).toString(16)).toBe('a80425fb');
    expect(capabilityMask(caps()).toString(16)).toBe('a80425fb');
  });

  it('drops, then adds; duplicates collapse; the result is in number order', () => {
    expect(caps(['NET_ADMIN', 'net_admin'], ['CHOWN', 'cap_kill'])).toEqual(
      known.filter((c) => (DEFAULT_CAPABILITIES.includes(c) && c !== 'CAP_CHOWN' && c !== 'CAP_KILL') || c === 'CAP_NET_ADMIN'));
  });

  it('--cap-add ALL gives every known capability but the dropped ones; --cap-drop ALL keeps only the added', () => {
    expect(caps(['ALL'], ['NET_RAW'])).toEqual(known.filter((c) => c !== 'CAP_NET_RAW'));
    expect(caps(['all'])).toEqual(known);
    expect(caps(['chown', 'SYS_ADMIN'], ['ALL'])).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    expect(caps([], ['all'])).toEqual([]);
    expect(caps(['ALL'], ['ALL'])).toEqual(known);
  });

  it('--privileged is every capability of the kernel, whatever else is asked', () => {
    expect(caps([], ['ALL'], true)).toEqual(known);
  });

  it('only capabilities the kernel knows are kept', () => {
    const older = CAPABILITIES.slice(0, 38);
    expect(containerCapabilities({ capAdd: ['ALL'], capDrop: [], privileged: false }, older)).toEqual(older);
    expect(containerCapabilities({ capAdd: ['BPF'], capDrop: [], privileged: false }, older)).not.toContain('CAP_BPF');
  });
});

describe('per-user sets and the helper record', () => {
  it('root: bounding, permitted and effective; others: bounding only; never inheritable or ambient', () => {
    expect(processCapabilities(['CAP_CHOWN', 'CAP_KILL'], 0)).toEqual({
      bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_CHOWN', 'CAP_KILL'], permitted: ['CAP_CHOWN', 'CAP_KILL'], inheritable: [], ambient: [] });
    expect(processCapabilities(['CAP_CHOWN', 'CAP_KILL'], 1000)).toEqual({
      bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: [], permitted: [], inheritable: [], ambient: [] });
  });

  it('is "caps B E P I A" with comma-separated numbers, empty sets as empty tokens', () => {
    expect(capabilityRecord(processCapabilities(['CAP_CHOWN', 'CAP_SYS_ADMIN'], 0))).toEqual(['caps', '0,21', '0,21', '0,21', '', '']);
    expect(capabilityRecord(processCapabilities([], 5))).toEqual(['caps', '', '', '', '', '']);
  });
});
