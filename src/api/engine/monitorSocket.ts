// The container monitor's attach socket as the API uses it (protocol: addon/helper/monitor.c): stdin ('i', 'I': its end is the container's) and pty resizes ('w').
import * as net from 'node:net';

/** Connects and reads the monitor's greeting; resolves with the connection, or undefined when refused or absent. */
export function connectMonitor(sock: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const c = net.createConnection(sock);
    const done = (ok: boolean) => {
      c.removeAllListeners('data');
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      if (!ok) { c.destroy(); resolve(undefined); } else resolve(c);
    };
    c.once('error', () => done(false));
    c.once('end', () => done(false));
    // 'y' attached, 'n' too many clients.
    c.once('data', (b: Buffer) => done(b[0] === 0x79));
  });
}

/**
 * Forwards INPUT to the container's stdin until INPUT ends. With ONCE (Docker's StdinOnce, no tty) the
 * end of INPUT — the client's half-close — or of the client closes the container's stdin too ('I');
 * otherwise it stays open for the next client ('i').
 */
export async function relayInput(sock: string, input: NodeJS.ReadableStream, once: boolean, abort: AbortSignal): Promise<void> {
  const c = await connectMonitor(sock);
  if (!c) return;
  c.write(once ? 'I' : 'i');
  await new Promise<void>((resolve) => {
    input.pipe(c);
    c.once('close', () => resolve());
    abort.addEventListener('abort', () => { input.unpipe(c); c.destroy(); resolve(); }, { once: true });
  });
}

/** Resizes the container's pty to ROWS×COLS. */
export async function resizeThroughMonitor(sock: string, rows: number, cols: number): Promise<void> {
  const c = await connectMonitor(sock);
  if (!c) return;
  await new Promise<void>((resolve) => {
    c.once('close', () => resolve());
    c.end(Buffer.from([0x77, rows >> 8, rows & 0xff, cols >> 8, cols & 0xff]));
  });
}
