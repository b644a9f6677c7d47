// Docker's StdinOnce through `lodger system service` as the unprivileged user: the attached client's end of input is the container's (docker run -i, lodger attach), and lodger run -i still reads piped input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLodger, runLodgerOk } from '../helpers/cli';
import { apiPrereqs, apiRequest, docker, dockerOk, dropService, startApiService, type ApiService } from './api-common';

const ok = apiPrereqs();
let svc: ApiService;

beforeAll(async () => { if (ok) svc = await startApiService('lodger-api-stdin-'); }, 120_000);
afterAll(() => dropService(svc), 120_000);

describe.skipIf(!ok)('stdin of an attached container ends with the client\'s (StdinOnce)', () => {
  it('printf | docker run -i --rm busybox wc -l counts the lines and exits 0', async () => {
    const r = await docker(svc, ['run', '-i', '--rm', 'busybox', 'wc', '-l'], { input: 'a\nb\n', timeoutMs: 30_000 });
    expect(r.stdout.trim()).toBe('2');
    expect(r.code).toBe(0);
    expect((await runLodgerOk(['ps', '-aq'], { store: svc.store })).stdout).toBe('');
  });

  it('echo | docker run -i busybox cat echoes and ends; inspect shows StdinOnce', async () => {
    const r = await dockerOk(svc, ['run', '-i', '--name', 'once', 'busybox', 'cat'], { input: 'hello\n', timeoutMs: 30_000 });
    expect(r.stdout).toBe('hello\n');
    const st = await dockerOk(svc, ['inspect', '--format', '{{.Config.StdinOnce}} {{.Config.OpenStdin}} {{.State.Status}} {{.State.ExitCode}}', 'once']);
    expect(st.stdout.trim()).toBe('true true exited 0');
    await dockerOk(svc, ['rm', 'once']);
  });

  it('docker run -d -i keeps no StdinOnce: the container\'s stdin stays open', async () => {
    await dockerOk(svc, ['run', '-d', '-i', '--name', 'keep', 'busybox', 'cat']);
    try {
      expect((await dockerOk(svc, ['inspect', '--format', '{{.Config.StdinOnce}}', 'keep'])).stdout.trim()).toBe('false');
      // A client whose input ends leaves cat reading (no EOF): attach follows it until killed at its timeout.
      const r = await runLodger(['attach', 'keep'], { store: svc.store, input: 'still\n', timeoutMs: 3_000 });
      expect(r.stdout).toBe('still\n');
      expect(r.code).not.toBe(0);
      expect((await dockerOk(svc, ['inspect', '--format', '{{.State.Status}}', 'keep'])).stdout.trim()).toBe('running');
    } finally {
      await dockerOk(svc, ['rm', '-f', 'keep']);
    }
  });

  it('lodger attach to a StdinOnce container closes its stdin at our EOF', async () => {
    const created = await apiRequest(svc.socket, 'POST', '/containers/create?name=onceattach',
      { Image: 'busybox', Cmd: ['wc', '-l'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    expect(created.status).toBe(201);
    await runLodgerOk(['start', 'onceattach'], { store: svc.store });
    const r = await runLodger(['attach', 'onceattach'], { store: svc.store, input: 'a\nb\nc\n', timeoutMs: 30_000 });
    expect(r.stdout.trim()).toBe('3');
    expect(r.code).toBe(0);
    await runLodgerOk(['rm', 'onceattach'], { store: svc.store });
  });

  it('lodger run -i --rm busybox cat reads piped input to its end', async () => {
    const r = await runLodgerOk(['run', '-i', '--rm', 'busybox', 'cat'], { store: svc.store, input: 'piped\nlines\n', timeoutMs: 30_000 });
    expect(r.stdout).toBe('piped\nlines\n');
  });
});
