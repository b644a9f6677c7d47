// Unit tests for the helper's plan decoder (plan.c) through `lodger-helper check-plan`: plans TypeScript encodes, large ones, and hostile ones.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../helpers/prereqs';
import { helperExecutable } from '../../../src/helper/native';
import { Plan, encodePlan } from '../../../src/helper/plan';

interface Summary {
  nsFlags: number; uid: number; gid: number; tty: number; rows: number; cols: number; groups: number[];
  argv: string[]; env: string[]; uidmap: string[]; gidmap: string[]; join: string[];
  prepare: [string, number][]; setup: [string, number][]; cleanup: [string, number][]; seccompRules: number;
}
interface Refusal { event: 'error'; step: string; path: string; errno: number; detail: string }

/** Decodes BYTES with the real helper; it runs nothing, only reads the plan and says what it holds. */
function decode(bytes: Buffer, helper = helperExecutable()): { code: number | null; signal: string | null; out: Summary | Refusal; stderr: string } {
  const r = spawnSync(helper, ['check-plan'], { input: bytes, encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'exitcode=99', UBSAN_OPTIONS: 'halt_on_error=1:exitcode=99' } });
  return { code: r.status, signal: r.signal, out: JSON.parse(r.stdout.trim().split('\n').pop() || 'null'), stderr: r.stderr };
}

/** Every plan this file feeds the decoder, for the run under AddressSanitizer below. */
const corpus: Buffer[] = [];
const fed = (b: Buffer) => { corpus.push(b); return b; };

function decoded(bytes: Buffer): Summary {
  const r = decode(fed(bytes));
  expect(r.out, JSON.stringify(r.out)).not.toHaveProperty('event');
  expect(r.code).toBe(0);
  return r.out as Summary;
}

function refused(bytes: Buffer): Refusal {
  const r = decode(fed(bytes));
  expect(r.signal).toBeNull();
  expect(r.code).toBe(125);
  const e = r.out as Refusal;
  expect(e.event).toBe('error');
  expect(e.step).toBe('parse-plan');
  expect(e.errno).toBe(22);
  return e;
}

/** Raw tokens, encoded as plan.c reads them, for plans TypeScript would never build. */
const raw = (...records: string[][]) => Buffer.from(records.map((r) => [String(r.length), ...r].join('\0') + '\0').join(''));

describe('what TypeScript encodes, the helper reads', () => {
  it('a container-like plan: namespaces, id maps, phases, the process', () => {
    const plan = new Plan().namespaces(['mnt', 'pid']).idmap({ mode: 'helper', user: 'u', setgroupsDeny: false, uid: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }], gid: [{ inside: 0, outside: 1000, count: 1 }] })
      .inPhase('prepare').mount('overlay', '/m', 'overlay', ['nosuid', 'ro'], 'lowerdir=/a')
      .inPhase('setup').bind('/dev/null', '/dev/null', ['rec']).mkdir('/work', 0o1777).symlink('pts/ptmx', '/dev/ptmx').loopbackUp()
      .inPhase('cleanup').umount('/m').rmtree('/d')
      .rootfs('/m').hostname('h')
      .process({ uid: 5, gid: 6, groups: [7, 8], cwd: '/work', env: ['A=1'], argv: ['sh', '-c', 'true'], tty: { rows: 30, cols: 100 }, stdin: 'null' });
    const s = decoded(plan.encode());
    expect(s.uidmap).toEqual(['0', '1000', '1', '1', '100000', '65536']);
    expect(s.gidmap).toEqual(['0', '1000', '1']);
    expect(s.prepare).toEqual([['mount', 5]]);
    expect(s.setup).toEqual([['bind', 3], ['mkdir', 2], ['symlink', 2], ['loopback-up', 0]]);
    expect(s.cleanup).toEqual([['umount', 1], ['rmtree', 1]]);
    expect({ uid: s.uid, gid: s.gid, groups: s.groups, tty: s.tty, rows: s.rows, cols: s.cols }).toEqual({ uid: 5, gid: 6, groups: [7, 8], tty: 1, rows: 30, cols: 100 });
    expect(s.argv).toEqual(['sh', '-c', 'true']);
    expect(s.env).toEqual(['A=1']);
  });

  it('sizes every list from the plan: 700 arguments, 600 variables, 200 groups, 300 map lines, 500 steps', () => {
    const argv = ['sh', '-c', 'echo $#', 'x', ...Array.from({ length: 700 }, (_, i) => String(i + 1))];
    const env = Array.from({ length: 600 }, (_, i) => `V${i}=${'v'.repeat(i)}`);
    const groups = Array.from({ length: 200 }, (_, i) => 1000 + i);
    const lines = Array.from({ length: 300 }, (_, i) => ({ inside: i * 10, outside: 100000 + i * 10, count: 10 }));
    const plan = new Plan().idmap({ mode: 'direct', user: 'u', setgroupsDeny: false, uid: lines, gid: lines }).inPhase('setup');
    for (let i = 0; i < 500; i++) plan.mkdir(`/d${i}`);
    const s = decoded(plan.process({ uid: 0, gid: 0, groups, env, argv, stdin: 'null' }).encode());
    expect(s.argv).toEqual(argv);
    expect(s.env).toEqual(env);
    expect(s.groups).toEqual(groups);
    expect(s.uidmap).toHaveLength(900);
    expect(s.setup).toHaveLength(500);
  });

  it('a seccomp rule of 900 syscall names in one record', () => {
    const names = Array.from({ length: 900 }, (_, i) => `s${i}`);
    const s = decoded(encodePlan([['seccomp', 'errno:1', 'x86_64'], ['seccomp-rule', 'allow', 0, names[0], ...names.slice(1)], ['argv', 'x']]));
    expect(s.seccompRules).toBe(1);
  });

  it('an empty plan is a plan with nothing in it', () => {
    expect(decoded(Buffer.alloc(0)).argv).toEqual([]);
  });
});

describe('hostile plans are refused with parse-plan and EINVAL, never a crash', () => {
  const good = raw(['user', '0', '0'], ['argv', 'sh']);

  it('truncated: the last token without its NUL, or a record cut short', () => {
    expect(refused(good.subarray(0, good.length - 1)).path).toMatch(/truncated/);
    expect(refused(raw(['argv', 'a', 'b']).subarray(0, 6)).path).toMatch(/truncated/);
    expect(refused(Buffer.from('3\0user\0')).path).toMatch(/truncated/);
    expect(refused(Buffer.from('3')).path).toMatch(/truncated/);
  });

  it('a token count that is not a count, is zero, or is more than the bytes left', () => {
    expect(refused(Buffer.from('abc\0user\0')).detail).toMatch(/bad token count/);
    expect(refused(Buffer.from('0\0')).detail).toMatch(/bad token count/);
    expect(refused(Buffer.from('-1\0user\0')).detail).toMatch(/bad token count/);
    expect(refused(Buffer.from('4294967295\0argv\0x\0')).detail).toMatch(/bad token count/);
    expect(refused(Buffer.from('99999999999999999999\0argv\0')).detail).toMatch(/bad token count/);
  });

  it('an unknown record', () => {
    const e = refused(raw(['bogus', 'x']));
    expect([e.path, e.detail]).toEqual(['bogus', 'unknown record']);
  });

  it('the wrong number of arguments', () => {
    expect(refused(raw(['user', '0'])).detail).toMatch(/wrong argument count: 1, expected 2/);
    expect(refused(raw(['phase', 'setup'], ['mkdir', '/x', '755', 'extra'])).path).toBe('mkdir');
    expect(refused(raw(['argv'])).detail).toMatch(/expected at least 1/);
    expect(refused(raw(['seccomp-rule', 'allow', '0'])).detail).toMatch(/expected at least 3/);
    expect(refused(raw(['caps', '1', '2'])).path).toBe('caps');
  });

  it('arguments of the wrong kind', () => {
    expect(refused(raw(['user', 'root', '0'])).detail).toMatch(/not a decimal number/);
    expect(refused(raw(['uidmap', '0', '4294967296', '1'])).detail).toMatch(/not a decimal number/);
    expect(refused(raw(['phase', 'setup'], ['mkdir', '/x', '999'])).detail).toMatch(/not an octal mode/);
    expect(refused(raw(['phase', 'setup'], ['mount', 'a', '/b', 'tmpfs', 'ro,suid', ''])).detail).toMatch(/not a list of mount flags/);
    expect(refused(raw(['ns', 'mnt', 'time'])).detail).toMatch(/unknown namespace/);
    expect(refused(raw(['stdin', 'tty'])).detail).toMatch(/unknown mode/);
    expect(refused(raw(['phase', 'later'])).detail).toMatch(/unknown phase/);
  });

  it('a step outside a phase', () => {
    expect(refused(raw(['mkdir', '/x', '755'])).detail).toMatch(/outside a phase/);
  });

  it('random bytes and mutated plans: decoded or refused, the helper never dies of a signal', () => {
    const base = new Plan().namespaces(['mnt']).inPhase('setup').mount('proc', '/proc', 'proc', ['nosuid']).process({ uid: 0, gid: 0, env: ['A=1'], argv: ['sh'], stdin: 'null' }).encode();
    let seed = 42;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(i < 20 ? Buffer.from(Array.from({ length: rnd(64) }, () => rnd(256))) : base);
      if (i >= 20) for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = [0, 48, 57, 120, 255][rnd(5)];
      const r = decode(fed(i >= 40 ? b.subarray(0, rnd(b.length)) : b));
      expect(r.signal, `plan ${i}`).toBeNull();
      expect([0, 125], `plan ${i}: ${JSON.stringify(r.out)}`).toContain(r.code);
    }
  });
});

describe('under AddressSanitizer and UBSan', () => {
  let asan = '';
  beforeAll(() => {
    if (!requireTool('cc')) return;
    // The helper's own sources, built with the sanitizers: a read past the plan's end, a leak or undefined
    // behaviour on any plan above is reported, where the normal build could pass by luck.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-asan-'));
    const src = path.join(__dirname, '../../../addon/helper');
    const sources = fs.readdirSync(src).filter((f) => f.endsWith('.c')).map((f) => path.join(src, f));
    const cc = spawnSync('cc', ['-std=gnu11', '-O1', '-g', '-fsanitize=address,undefined', '-fno-omit-frame-pointer', ...sources, '-lseccomp', '-o', path.join(dir, 'lodger-helper')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`building the helper with -fsanitize=address,undefined failed:\n${cc.stderr}`);
    asan = path.join(dir, 'lodger-helper');
  }, 300_000);

  it('decodes or refuses every plan of this file without a memory error, a leak or undefined behaviour', () => {
    if (!asan) return;
    expect(corpus.length).toBeGreaterThan(30);
    for (const [i, b] of corpus.entries()) {
      const r = decode(b, asan);
      expect(r.stderr, `plan ${i}`).not.toMatch(/Sanitizer|runtime error/);
      expect([0, 125], `plan ${i}`).toContain(r.code);
    }
  });
});
