// Integration tests for the plan's sizes (issue 13): commands and environments as long as the kernel allows reach the container, and longer ones are refused naming the option.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { execLimits } from '../../src/helper/execLimits';
import { busyboxStore } from './foundation-common';

let store: Store;
beforeAll(async () => { store = await busyboxStore(); });
afterAll(() => store?.cleanup());

const seq = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));

describe('a long command line and a large environment', () => {
  it('run passes 700 arguments: sh counts 700 positional parameters after $0', async () => {
    // `sh -c 'echo $#' x 1 … 700`: x is $0, so $# is 700 (Docker and podman print the same).
    const r = await runLodgerOk(['run', '--rm', 'busybox', 'sh', '-c', 'echo $# $0 $700', 'x', ...seq(700)], { store });
    expect(r.stdout).toBe('700 x 700\n');
  });

  it('run passes 600 -e variables', async () => {
    const flags = seq(600).flatMap((i) => ['-e', `V${i}=value${i}`]);
    const r = await runLodgerOk(['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'env | grep -c "^V[0-9]*=value"; echo $V1 $V600'], { store });
    expect(r.stdout).toBe('600\nvalue1 value600\n');
  });

  it('exec passes 700 arguments and 600 -e variables into a running container', async () => {
    const name = 'plan-limits-exec';
    await runLodgerOk(['run', '-d', '--name', name, 'busybox', 'sleep', '600'], { store });
    try {
      const flags = seq(600).flatMap((i) => ['-e', `E${i}=${i}`]);
      const r = await runLodgerOk(['exec', ...flags, name, 'sh', '-c', 'echo $# $E600; env | grep -c "^E[0-9]*="', 'x', ...seq(700)], { store });
      expect(r.stdout).toBe('700 600\n600\n');
    } finally {
      await runLodger(['rm', '-f', name], { store });
    }
  });
});

describe('over the kernel\'s limits: exit 125 and a message that names the option', () => {
  const limits = execLimits();
  const envFile = (name: string, bytes: number, each = 1000) => {
    const file = path.join(store.dir, name);
    const lines: string[] = [];
    for (let total = 0, i = 0; total < bytes; i++) { const l = `BIG${i}=${'v'.repeat(each)}`; lines.push(l); total += l.length + 9; }
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  };

  it('an environment over ARG_MAX (--env-file)', async () => {
    const r = await runLodger(['run', '--rm', '--env-file', envFile('big.env', limits.argMax + 4096), 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/the environment \(\d+ variables from -e, --env-file and the image's Env, \d+ bytes.*exceeds the kernel's limit ARG_MAX \(\d+ bytes/);
    expect((await runLodgerOk(['ps', '-aq'], { store })).stdout).toBe('');
  });

  it('a command over ARG_MAX together with its environment names the command', async () => {
    // The CLI itself must still start, so the command stays under ARG_MAX and the environment file tips it over.
    const args = Array.from({ length: Math.floor((limits.argMax * 0.6) / 1009) }, () => 'a'.repeat(1000));
    const r = await runLodger(['run', '--rm', '--env-file', envFile('half.env', limits.argMax * 0.45), 'busybox', 'true', ...args], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/the command and its arguments \(\d+ strings, \d+ bytes, with \d+ bytes of environment\) exceed the kernel's limit ARG_MAX.*shorten the command/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('one variable longer than MAX_ARG_STRLEN', async () => {
    const file = path.join(store.dir, 'one.env');
    fs.writeFileSync(file, `HUGE=${'x'.repeat(limits.maxArgStrlen)}\n`);
    const r = await runLodger(['run', '--rm', '--env-file', file, 'busybox', 'true'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/the environment variable HUGE is \d+ bytes, more than the \d+ the kernel takes in one variable \(MAX_ARG_STRLEN\)/);
  });
});
