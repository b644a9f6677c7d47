// `docker events` through `lodger system service` as the unprivileged user: a die for containers that end by themselves under their monitors.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodgerOk } from '../helpers/cli';
import { apiPrereqs, DOCKER, dockerOk, dropService, startApiService, type ApiService } from './api-common';

const ok = apiPrereqs();
let svc: ApiService;

beforeAll(async () => { if (ok) svc = await startApiService('lodger-api-events-'); }, 120_000);
afterAll(() => dropService(svc), 120_000);

/** `docker events ARGS…` running; its output so far in `out`. */
function dockerEvents(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(DOCKER, ['events', ...args], { env: svc.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => { text += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { text += b.toString(); });
  return { child, out: () => text };
}

async function waitFor(what: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !what() && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
}

describe.skipIf(!ok)('docker events reports exits', () => {
  it('docker events --filter event=die shows a run -d container that ends by itself, with its exit code', async () => {
    const ev = dockerEvents(['--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.team}}']);
    try {
      // The stream is up once it answers: a container that ends before it is not what this checks.
      await new Promise((r) => setTimeout(r, 1000));
      await dockerOk(svc, ['run', '-d', '--name', 'shortlived', '--label', 'team=ev', 'busybox', 'sh', '-c', 'sleep 1; exit 3']);
      // A container of lodger's own CLI is under a monitor too: its exit is reported the same way.
      await runLodgerOk(['run', '-d', '--name', 'fromcli', 'busybox', 'sleep', '1'], { store: svc.store });
      await waitFor(() => ev.out().includes('shortlived') && ev.out().includes('fromcli'));
      const lines = ev.out().trim().split('\n').sort();
      expect(lines).toEqual(['die fromcli 0 <no value>', 'die shortlived 3 ev']);
      // Removing it is no second die.
      await dockerOk(svc, ['rm', 'shortlived', 'fromcli']);
      await new Promise((r) => setTimeout(r, 1500));
      expect(ev.out().trim().split('\n')).toHaveLength(2);
    } finally {
      ev.child.kill();
    }
  });
});
