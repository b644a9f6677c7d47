// The CLI as a front door: the engine's events become the lines lodger has always printed, and its errors Docker's exit codes.
import { PassThrough } from 'node:stream';
import { Cli } from 'clipanion';
import { describe, expect, it } from 'vitest';
import { LodgerCommand } from '../../../src/cli/base';
import { LodgerError } from '../../../src/errors';
import type { EngineEvent } from '../../../src/events';

/** Runs a command whose engine call reports EVENTS and then throws THROWS (if given); returns what it printed and its exit code. */
async function runWith(events: EngineEvent[], throws?: unknown) {
  const layers: EngineEvent[] = [];
  class Probe extends LodgerCommand {
    static override paths = [['probe']];
    async run(): Promise<number> {
      const report = this.reporter((e) => layers.push(e));
      for (const e of events) report(e);
      if (throws) throw throws;
      return 0;
    }
  }
  const cli = new Cli({ binaryName: 'lodger', enableColors: false });
  cli.register(Probe);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const code = await cli.run(['probe'], { ...Cli.defaultContext, stdin: new PassThrough(), stdout, stderr } as never);
  return { code, out: String(stdout.read() ?? ''), err: String(stderr.read() ?? ''), layers };
}

describe('the CLI renders the engine', () => {
  it('notes and warnings as "lodger: note|warning: …" lines on stderr, in order; layer events to the command', async () => {
    const layer: EngineEvent = { kind: 'layer', op: 'pull', id: 'sha256:' + 'a'.repeat(64), phase: 'done', current: 5, total: 5 };
    const r = await runWith([{ kind: 'warning', message: 'only your own id' }, layer, { kind: 'note', message: 'ownership not kept' }]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('lodger: warning: only your own id\nlodger: note: ownership not kept\n');
    expect(r.out).toBe('');
    expect(r.layers).toEqual([layer]);
  });

  it('a LodgerError as one line and its exit code, whatever its kind; anything else as an internal error (125)', async () => {
    const nf = await runWith([], new LodgerError('NO_SUCH_CONTAINER', 'no such container: web'));
    expect([nf.code, nf.err]).toEqual([125, 'lodger: no such container: web\n']);
    const invoke = await runWith([], new LodgerError('EXEC_NOT_FOUND', 'exec nosuch: not found', 127));
    expect([invoke.code, invoke.err]).toEqual([127, 'lodger: exec nosuch: not found\n']);
    const bug = await runWith([], new TypeError('x is undefined'));
    expect(bug.code).toBe(125);
    expect(bug.err).toMatch(/^lodger: internal error: TypeError: x is undefined\n/);
  });
});
