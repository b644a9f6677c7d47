// Self-test of the CLI driver's process handling (environment, exit status, timeouts, background runs), with a stand-in program as LODGER_TEST_BIN.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { killLodgers, lodgerEnv, makeStore, runLodger, runLodgerOk, spawnLodger, waitForExit, waitForOutput } from '../../helpers/cli';

// The real CLI is exercised by the integration tests; here a shell script stands in for it so the
// harness's own mechanics are checked whatever state the CLI is in.
const script = `#!/bin/sh
case "$1" in
  env) echo "root=$LODGER_ROOT run=$XDG_RUNTIME_DIR ca=\${NODE_EXTRA_CA_CERTS-unset} extra=$EXTRA" ;;
  cat) cat ;;
  fail) echo "bad thing" >&2; exit 3 ;;
  hang) sleep 300 & echo "$!" > "$2"; wait ;;
  serve) echo ready; while :; do sleep 1; done ;;
esac
`;
const saved = process.env.LODGER_TEST_BIN;
const skipRoot = process.getuid?.() === 0;
let dir = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-cli-test-'));
  const standIn = path.join(dir, 'lodger');
  fs.writeFileSync(standIn, script, { mode: 0o755 });
  process.env.LODGER_TEST_BIN = standIn;
});
afterAll(() => {
  if (saved === undefined) delete process.env.LODGER_TEST_BIN;
  else process.env.LODGER_TEST_BIN = saved;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => killLodgers());

function processState(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
  } catch {
    return 'gone';
  }
}

describe.skipIf(skipRoot)('runLodger', () => {
  it('points lodger at the run scratch store by default, with NODE_EXTRA_CA_CERTS unset', async () => {
    const shared = inject('lodger');
    process.env.NODE_EXTRA_CA_CERTS = '/nonexistent.pem';
    try {
      const r = await runLodgerOk(['env']);
      expect(r.stdout).toBe(`root=${shared.defaultRoot} run=${shared.defaultRuntimeDir} ca=unset extra=\n`);
    } finally {
      delete process.env.NODE_EXTRA_CA_CERTS;
    }
  });

  it('uses a store from makeStore and extra environment', async () => {
    const store = makeStore();
    try {
      const r = await runLodger(['env'], { store, env: { EXTRA: 'yes' } });
      expect(r.stdout).toBe(`root=${store.root} run=${store.runtimeDir} ca=unset extra=yes\n`);
      expect(lodgerEnv({ root: '/x', env: { HOME: undefined } }).HOME).toBeUndefined();
    } finally {
      await store.cleanup();
    }
  });

  it('passes input, and reports status and stderr of a failing command', async () => {
    expect((await runLodger(['cat'], { input: 'hello' })).stdout).toBe('hello');
    const r = await runLodger(['fail']);
    expect(r).toMatchObject({ code: 3, stderr: 'bad thing\n', timedOut: false });
    await expect(runLodgerOk(['fail'])).rejects.toThrow(/exited 3[\s\S]*bad thing/);
  });

  it('kills the whole process group on timeout', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const r = await runLodger(['hang', pidFile], { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBe(128 + 9);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    expect(processState(pid)).toMatch(/^(gone|Z)$/); // a zombie is dead, only not yet reaped by init

  });
});

describe.skipIf(skipRoot)('spawnLodger', () => {
  it('waits for output, then for the exit after a signal', async () => {
    const child = spawnLodger(['serve']);
    expect(await waitForOutput(child, 'ready', { timeoutMs: 5000 })).toContain('ready');
    child.kill('SIGTERM');
    const r = await waitForExit(child, 5000);
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdout).toBe('ready\n');
  });

  it('fails waitForOutput when the program exits first', async () => {
    const child = spawnLodger(['fail']);
    await expect(waitForOutput(child, 'never', { timeoutMs: 5000 })).rejects.toThrow(/exited before printing never[\s\S]*bad thing/);
  });
});
