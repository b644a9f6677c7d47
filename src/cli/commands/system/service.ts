// `lodger system service`: serves the Docker Engine API on a unix socket, as `podman system service` does.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class SystemServiceCommand extends LodgerCommand {
  static override paths = [['system', 'service']];
  static override usage = Command.Usage({
    description: 'Serve the Docker Engine API (for the docker CLI, Compose, Testcontainers…) on a socket',
    details: `Listens on URI (default unix://$XDG_RUNTIME_DIR/lodger/lodger.sock) until it has had no connection for --time seconds (5; 0 serves until stopped) or gets SIGTERM. Point clients at it with DOCKER_HOST=unix://…/lodger.sock. Containers it starts run under their own monitors like any other: they outlive the service, and \`lodger ps\` shows them. The socket is yours alone (0600, and peers of another uid are refused); tcp:// is accepted only on a loopback address. Started by a systemd user socket unit, it serves the socket it is given (docs/API.md).`,
    examples: [
      ['Serve until stopped', 'lodger system service --time 0'],
      ['Use it from the docker CLI', 'DOCKER_HOST=unix://$XDG_RUNTIME_DIR/lodger/lodger.sock docker run --rm busybox echo hi'],
    ],
  });
  time = Option.String('-t,--time', '5', { description: 'Seconds without connections before exiting (0: never)' });
  // Also every command's --log-level (base.ts): debug adds one line per request on stderr.
  override logLevel = Option.String('--log-level', { description: 'info (the default), or debug: one line per request on stderr' });
  uri = Option.String({ required: false });

  async run(): Promise<number> {
    const { UsageError } = await import('clipanion');
    const idle = Number(this.time);
    if (!Number.isInteger(idle) || idle < 0) throw new UsageError(`--time ${this.time}: give a whole number of seconds (0: never stop)`);
    const { parseListenUri, activatedSocket } = await import('../../../api/uri');
    const { startService } = await import('../../../api/server');
    const { engineBackend } = await import('../../../api/engine');
    const p = await this.store();
    const address = (!this.uri && activatedSocket()) || parseListenUri(this.uri);
    const svc = await startService({
      address, idleSeconds: idle, backend: engineBackend(p), debug: this.logLevel === 'debug',
      notice: (text) => this.context.stderr.write(`lodger: ${text}\n`),
    });
    this.context.stderr.write(`lodger: serving the Docker API on ${svc.url}${idle ? ` (exits after ${idle} s without connections)` : ''}\n`);
    // SIGTERM and SIGINT stop the service cleanly. The handlers stay until it has stopped: proper-lockfile's
    // signal-exit re-raises a signal that finds no other listener, which would kill us halfway through.
    const onSignal = () => { void svc.stop(); };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await svc.closed;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    return 0;
  }
}
