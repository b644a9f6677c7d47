// `attach`: follows a running detached container's log from now on until its final exit, relaying signals to it (sig-proxy) and, when it was created with -i, our stdin through its monitor's attach socket (our EOF closes its stdin with StdinOnce).
import * as fs from 'node:fs';
import { appendedLines } from './logFile';
import * as net from 'node:net';
import { LodgerError } from '../errors';
import { containerDir, liveState, pidRunning, readState, type ContainerState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { attachSocketPath } from './containerPlan';
import type { AttachIO } from './containerIO';
import type { Reporter } from '../events';
import { logPath } from './detach';
import { killContainer, mustRecord } from './lifecycle';

export interface AttachOptions {
  /** Relay the signals below to the container's init, as `lodger kill -s` would (not with a tty: Docker's rule). */
  sigProxy: boolean;
  /** Give the container our stdin when it was created with -i (false: --no-stdin). */
  stdin: boolean;
  /** Docker's --detach-keys: undefined is ctrl-p,ctrl-q; '' turns detaching off (as podman does). */
  detachKeys?: string;
}

interface Line { log: string; stream: 'stdout' | 'stderr' }

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** How an attach ended: the container's exit status once it stopped for good, or the detach keys typed (it runs on). */
export type AttachResult = { detached: false; exitCode: number } | { detached: true };

function monitorAlive(st: ContainerState | undefined): boolean {
  return st?.MonitorPid ? pidRunning(st.MonitorPid) : false;
}

/**
 * Docker's --detach-keys syntax: comma-separated keys, each a single character or ctrl- with one of
 * a–z @ [ \ ] ^ _ (the ASCII control codes 0–31).
 */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  const CTRL = '@abcdefghijklmnopqrstuvwxyz[\\]^_';
  return Buffer.from(spec.split(',').map((key) => {
    if (key.length === 1) return key.charCodeAt(0);
    const m = /^ctrl-(.)$/i.exec(key);
    const code = m ? CTRL.indexOf(m[1].toLowerCase()) : -1;
    if (code < 0) throw new LodgerError('BAD_FLAG', `--detach-keys: "${key}" is not a key — use a letter or ctrl- with one of a-z @ [ \\ ] ^ _ (e.g. ctrl-p,ctrl-q)`);
    return code;
  }));
}

/**
 * Watches typed input for the detach keys, as Docker's escape proxy does: bytes that may begin the
 * sequence are held back, and go through after all if the next byte does not continue it.
 */
class DetachKeys {
  private held = 0;
  constructor(private readonly keys: Buffer) {}

  /** What of CHUNK to forward, and whether the keys were typed (nothing after them is forwarded). */
  filter(chunk: Buffer): { data: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { data: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b !== this.keys[this.held]) {
        for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
        this.held = 0;
        if (b !== this.keys[0]) { out.push(b); continue; }
      }
      if (++this.held === this.keys.length) return { data: Buffer.from(out), detach: true };
    }
    return { data: Buffer.from(out), detach: false };
  }
}

/** Connects to the monitor's attach socket; resolves with the connection, or with why there is none. */
function connectMonitor(sock: string): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const c = net.createConnection(sock);
    const done = (r: net.Socket | string) => {
      c.removeAllListeners('error');
      c.removeAllListeners('data');
      c.removeAllListeners('end');
      if (typeof r === 'string') c.destroy();
      else { c.on('error', () => undefined); c.on('data', () => undefined); }
      resolve(r);
    };
    c.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
      ? `its monitor has no attach socket at ${sock} (started by an older lodger? restart the container)`
      : `cannot connect to ${sock}: ${e.message}`));
    // The monitor's first byte: 'y' attached, 'n' refused (too many clients at once); EOF: it is exiting.
    c.once('data', (b: Buffer) => done(b[0] === 0x79 ? c : 'too many clients are attached to it already'));
    c.once('end', () => done('it is exiting'));
  });
}

/** Resizes the container's pty to ROWS×COLS through the monitor (a 'w' connection: monitor.c). */
async function resizePty(sock: string, rows: number, cols: number): Promise<void> {
  const c = await connectMonitor(sock);
  if (typeof c === 'string') return;
  await new Promise<void>((resolve) => {
    c.once('close', () => resolve());
    c.end(Buffer.from([0x77, rows >> 8, rows & 0xff, cols >> 8, cols & 0xff]));
  });
}

/** The front door's input forwarded to the container's stdin: detach keys watched, raw mode for a tty, undone by stop(). */
interface StdinRelay { detached: boolean; stop(): void }

async function relayStdin(sock: string, rec: { Name: string; Tty: boolean; StdinOnce: boolean }, input: NodeJS.ReadableStream, io: AttachIO,
  keys: Buffer, report: Reporter | undefined, onDetach: () => void): Promise<StdinRelay | undefined> {
  const conn = await connectMonitor(sock);
  if (typeof conn === 'string') {
    report?.({ kind: 'warning', message: `stdin is not attached to ${rec.Name}: ${conn}` });
    return undefined;
  }
  // 'I': our EOF closes the container's stdin (StdinOnce, without a tty: monitor.c); 'i': it stays open.
  conn.write(rec.StdinOnce && !rec.Tty ? 'I' : 'i');
  // A terminal talks to the container's pty directly, key by key (Docker: raw mode only with -t).
  const term = rec.Tty ? io.terminal : undefined;
  term?.setRaw(true);
  // Keys are watched where a user types them; piped input goes through as it is.
  const watch = io.typed ? new DetachKeys(keys) : undefined;
  const relay: StdinRelay = { detached: false, stop: () => undefined };
  let waiting = false;
  const onData = (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const { data, detach } = watch ? watch.filter(buf) : { data: buf, detach: false };
    if (data.length && !conn.write(data) && !waiting) {
      // The container reads slower than we are given input: wait for the monitor to take it.
      waiting = true;
      input.pause();
      conn.once('drain', () => { waiting = false; input.resume(); });
    }
    if (detach) { relay.detached = true; onDetach(); }
  };
  // Our EOF ends this connection; the container's stdin with it only when it was created with StdinOnce.
  const onEnd = () => conn.end();
  input.on('data', onData);
  input.once('end', onEnd);

  const onResize = () => { const s = term?.size(); if (s) void resizePty(sock, s.rows, s.cols); };
  // A terminal of unknown size leaves the pty its own.
  const first = term?.size();
  let stopResize: (() => void) | undefined;
  if (term && first) {
    // One size off first, as Docker does: the size then changes for sure, so the program gets SIGWINCH and redraws.
    void resizePty(sock, first.rows + 1, first.cols + 1).then(onResize);
    stopResize = term.onResize(onResize);
  }
  relay.stop = () => {
    input.off('data', onData);
    input.off('end', onEnd);
    stopResize?.();
    term?.setRaw(false);
    // Nothing more is read, so this process can exit; the monitor sees our EOF.
    input.pause();
    (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    conn.destroy();
  };
  return relay;
}

/**
 * Writes to IO what the container writes from now on (its monitor's json-file log, stdout and stderr
 * kept apart) and returns its exit status once it has stopped for good: with a restart policy, attach
 * stays through the restarts, as `wait` does. A container created with -i also gets IO's stdin, through
 * its monitor's attach socket; typing the detach keys ends the attach and leaves it running.
 */
export async function attachContainer(p: StorePaths, id: string, o: AttachOptions, io: AttachIO): Promise<AttachResult> {
  const out = io.stdout;
  const err = io.stderr;
  const rec = mustRecord(p, id);
  const st = liveState(readState(p, id));
  if (!st.Running) throw new LodgerError('NOT_RUNNING', `cannot attach to ${rec.Name}: it is not running — start it first ("lodger start -a ${rec.Name}")`);
  if (st.Paused) throw new LodgerError('PAUSED', `cannot attach to ${rec.Name}: it is paused — unpause it first`);
  const keys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  let fd: number;
  try {
    fd = fs.openSync(logPath(p, id), 'r');
  } catch {
    throw new LodgerError('NO_LOG', `cannot attach to ${rec.Name}: it runs in the foreground of another lodger, whose terminal gets its output (only detached containers, "lodger run -d", can be attached)`);
  }
  // The file stays readable through this descriptor even when --rm deletes the container at its exit.
  const read = appendedLines(fd, fs.fstatSync(fd).size);
  let last: ContainerState | undefined = st;
  const forward = (sig: NodeJS.Signals) => {
    killContainer(p, id, sig).catch(() => undefined);  // not running (between restarts, or gone): nothing to relay
  };
  // With a tty the keys reach the container as input (Ctrl-C is ^C to its pty): Docker proxies no signals then.
  const stopProxy = o.sigProxy && !rec.Config.Tty ? io.relaySignals?.(forward) : undefined;
  let wake: () => void = () => undefined;
  let relay: StdinRelay | undefined;
  const drain = () => {
    const lines = read();
    if (!lines.length) return false;
    for (const text of lines) {
      let l: Line;
      try { l = JSON.parse(text) as Line; } catch { continue; }
      (l.stream === 'stderr' ? err : out).write(l.log);
    }
    return true;
  };
  try {
    if (o.stdin && rec.Config.OpenStdin && io.stdin) {
      relay = await relayStdin(attachSocketPath(p, id), { Name: rec.Name, Tty: rec.Config.Tty, StdinOnce: !!rec.Config.StdinOnce }, io.stdin, io, keys, io.report ?? p.report, () => wake());
    }
    for (;;) {
      if (relay?.detached) {
        relay.stop();  // the terminal back in its own mode before the front door says so
        relay = undefined;
        return { detached: true };
      }
      // Read the state before the log: whatever was written before a final exit is then printed below.
      const gone = !fs.existsSync(containerDir(p, id));
      const raw = gone ? undefined : readState(p, id);
      if (raw) last = raw;
      const final = gone || (!liveState(raw).Running && !monitorAlive(raw));
      if (drain()) continue;
      if (final) {
        // --rm may have removed the record after its monitor wrote the exit; 0 when we never saw it.
        const end = gone ? last : liveState(raw);
        return { detached: false, exitCode: end && end.Status !== 'running' ? end.ExitCode : 0 };
      }
      await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
    }
  } finally {
    relay?.stop();
    stopProxy?.();
    fs.closeSync(fd);
  }
}
