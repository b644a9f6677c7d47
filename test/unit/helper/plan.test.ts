// Unit tests for building a plan from typed records (plan.ts, steps.ts), its encoding, and the ARG_MAX check of the process (execLimits.ts).
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { Plan, encodePlan, type PlanRecord } from '../../../src/helper/plan';
import { checkExecSize, execLimits } from '../../../src/helper/execLimits';
import { recordTokens } from '../../../src/helper/steps';
import { containerProcess } from '../../../src/containers/containerPlan';

function thrown(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error');
}

describe('typed records become tokens', () => {
  it('numbers in decimal, modes in octal, mount flags as a comma list', () => {
    expect(recordTokens(['user', 1000, 100])).toEqual(['user', '1000', '100']);
    expect(recordTokens(['mkdir', '/tmp', 0o1777])).toEqual(['mkdir', '/tmp', '1777']);
    expect(recordTokens(['mount', 'proc', '/proc', 'proc', ['nosuid', 'nodev', 'noexec'], ''])).toEqual(['mount', 'proc', '/proc', 'proc', 'nosuid,nodev,noexec', '']);
    expect(recordTokens(['bind', '/a', '/b', []])).toEqual(['bind', '/a', '/b', '']);
    expect(recordTokens(['seccomp-rule', 'errno:1', 1, '0:eq:1:0', 'clone'])).toEqual(['seccomp-rule', 'errno:1', '1', '0:eq:1:0', 'clone']);
  });

  it('a record that breaks its kinds or arity is refused before it reaches the helper', () => {
    expect(thrown(() => recordTokens(['user', 0] as unknown as PlanRecord)).message).toMatch(/user: 1 arguments, expected 2/);
    expect(thrown(() => recordTokens(['user', -1, 0])).message).toMatch(/not a non-negative integer/);
    expect(thrown(() => recordTokens(['user', '0', 0] as unknown as PlanRecord)).message).toMatch(/not a non-negative integer/);
    expect(thrown(() => recordTokens(['argv'] as unknown as PlanRecord)).message).toMatch(/expected 1 or more/);
  });

  it('a NUL byte in a string is the user\'s mistake, said so', () => {
    const e = thrown(() => recordTokens(['env', 'A=x\0y']));
    expect(e).toBeInstanceOf(LodgerError);
    expect(e.message).toMatch(/cannot contain a NUL byte/);
  });

  it('encodes "N\\0name\\0arg…\\0" per record', () => {
    expect(encodePlan([['ns', 'mnt', 'pid'], ['setgroups-deny'], ['tty', 24, 80]]).toString('latin1'))
      .toBe('3\0ns\0mnt\0pid\0' + '1\0setgroups-deny\0' + '3\0tty\x0024\x0080\0');
  });
});

describe('the plan builder', () => {
  it('puts steps only in a phase, and a phase record only when the phase changes', () => {
    expect(thrown(() => new Plan().mkdir('/x')).message).toMatch(/outside a phase/);
    const p = new Plan().inPhase('setup').mkdir('/x').inPhase('setup').mask('/proc/kcore').inPhase('cleanup').rmtree('/d');
    expect(p.records).toEqual([['phase', 'setup'], ['mkdir', '/x', 0o755], ['mask', '/proc/kcore'], ['phase', 'cleanup'], ['rmtree', '/d']]);
  });

  it('writes the process part in one place: terminal, stdin, ids, privileges, groups, cwd, env, argv', () => {
    const p = new Plan().process({
      uid: 1000, gid: 1000, groups: [10, 20], cwd: '/w', env: ['A=1', 'B=2'], argv: ['sh', '-c', 'x'],
      security: [['caps', '0', '', '', '', ''], ['no-new-privileges']], tty: { rows: 40, cols: 120 }, stdin: 'inherit',
    });
    expect(p.records).toEqual([
      ['tty', 40, 120], ['stdin', 'inherit'], ['user', 1000, 1000], ['caps', '0', '', '', '', ''], ['no-new-privileges'],
      ['groups', 10, 20], ['cwd', '/w'], ['env', 'A=1', 'B=2'], ['argv', 'sh', '-c', 'x'],
    ]);
    // A worker's process: no groups, no cwd, no environment records.
    expect(new Plan().process({ uid: 0, gid: 0, env: [], argv: ['/bin/true'], stdin: 'null' }).records)
      .toEqual([['stdin', 'null'], ['user', 0, 0], ['argv', '/bin/true']]);
  });

  it('run and exec get their process part from the same function, exec --privileged only widening the capabilities', () => {
    const hc = { CapAdd: [], CapDrop: ['ALL'], Privileged: false, SecurityOpt: ['no-new-privileges'] };
    const proc = { uid: 0, gid: 0, groups: [], cwd: '/', env: ['PATH=/bin'], argv: ['sh'] };
    const run = containerProcess(hc, proc, { keepStdin: false });
    const exec = containerProcess(hc, proc, { keepStdin: true, tty: { rows: 1, cols: 2 } });
    const privileged = containerProcess(hc, proc, { keepStdin: false, execPrivileged: true });
    expect(run.security).toEqual(exec.security);
    expect(run.security?.[0]).toEqual(['caps', '', '', '', '', '']);
    expect(privileged.security?.[0][1]).not.toBe('');
    expect(privileged.security?.slice(1)).toEqual(run.security?.slice(1));
    expect([run.stdin, exec.stdin, exec.tty]).toEqual(['null', 'inherit', { rows: 1, cols: 2 }]);
  });
});

describe('the kernel\'s limits on a command and its environment', () => {
  it('ARG_MAX follows the stack limit as execve(2) does: a quarter, at most 6 MiB, at least 32 pages', () => {
    const soft = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'))!.split(/\s+/)[3];
    const l = execLimits();
    const expected = soft === 'unlimited' ? 6 * 1024 * 1024 : Math.max(Math.min(Math.floor(Number(soft) / 4), 6 * 1024 * 1024), l.maxArgStrlen);
    expect(l.argMax).toBe(expected);
    expect(l.maxArgStrlen % 32).toBe(0);
    expect(l.maxArgStrlen).toBeGreaterThanOrEqual(32 * 4096);
  });

  const limits = { argMax: 64 * 1024, maxArgStrlen: 8 * 1024 };
  const many = (n: number, size: number, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${i}=`.padEnd(size, 'x'));

  it('passes what fits', () => {
    expect(() => checkExecSize(['sh', '-c', 'echo $#', 'x', ...many(700, 8)], many(600, 20, 'V'), limits)).not.toThrow();
  });

  it('names the command when the command is the larger part', () => {
    const e = thrown(() => checkExecSize(many(100, 600), many(10, 100), limits)) as LodgerError;
    expect(e).toBeInstanceOf(LodgerError);
    expect(e.code).toBe('ARG_MAX');
    expect(e.exitCode).toBe(125);
    expect(e.message).toMatch(/^the command and its arguments \(100 strings, \d+ bytes, with \d+ bytes of environment\) exceed the kernel's limit ARG_MAX \(65536 bytes.*shorten the command/);
  });

  it('names the environment (-e, --env-file) when it is the larger part', () => {
    const e = thrown(() => checkExecSize(['true'], many(200, 400, 'V'), limits)) as LodgerError;
    expect(e.code).toBe('ENV_MAX');
    expect(e.message).toMatch(/^the environment \(200 variables from -e, --env-file and the image's Env, \d+ bytes.*ARG_MAX \(65536 bytes/);
  });

  it('names the one argument or variable longer than MAX_ARG_STRLEN', () => {
    expect(thrown(() => checkExecSize(['echo', 'x'.repeat(9000)], [], limits)).message).toMatch(/^argument 1 of the command is 9001 bytes, more than the 8192 .*MAX_ARG_STRLEN/);
    expect(thrown(() => checkExecSize(['true'], ['BIG=' + 'x'.repeat(9000)], limits)).message).toMatch(/^the environment variable BIG is 9005 bytes.*MAX_ARG_STRLEN.*-e, --env-file/);
  });

  it('is checked when the process is put in the plan, before anything runs', () => {
    const big = 'x'.repeat(execLimits().maxArgStrlen);
    expect(thrown(() => new Plan().process({ uid: 0, gid: 0, env: [], argv: ['echo', big], stdin: 'null' }))).toBeInstanceOf(LodgerError);
  });
});
