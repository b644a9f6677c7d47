// The base of every lodger command: --root, the engine's notes rendered on stderr, the terminal handed to a container,
// and errors printed as one line (no stack) with Docker's exit codes.
import { Command, Option, UsageError } from 'clipanion';
import { LodgerError } from '../errors';
import type { EngineEvent, Reporter } from '../events';
import type { ContainerIO } from '../containers/containerIO';

/** The signals a terminal or a job controller sends lodger, relayed to a foreground container (SIGKILL and SIGSTOP cannot be caught). */
const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Sends the signals lodger receives on with SEND (instead of dying of them) until the returned function is called. */
export function relayProcessSignals(send: (sig: NodeJS.Signals) => void): () => void {
  for (const s of RELAYED) process.on(s, send);
  return () => { for (const s of RELAYED) process.off(s, send); };
}

export abstract class LodgerCommand extends Command {
  root = Option.String('--root', { description: 'Store directory (default $LODGER_ROOT or ~/.local/share/lodger)', hidden: true });
  logLevel = Option.String('--log-level', { description: 'debug, info (notes every time), warn (the default: notes once per store) or error', hidden: true });

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    if (this.root) process.env.LODGER_ROOT = this.root;
    if (this.logLevel !== undefined) process.env.LODGER_LOG_LEVEL = this.logLevel;
    const level = process.env.LODGER_LOG_LEVEL;
    if (level !== undefined && !['debug', 'info', 'warn', 'error', 'fatal'].includes(level)) {
      this.context.stderr.write(`lodger: --log-level ${level}: use debug, info, warn or error\n`);
      return 125;
    }
    try {
      return (await this.run()) ?? 0;
    } catch (e) {
      if (e instanceof UsageError) {
        this.context.stderr.write(this.cli.error(e, { command: this }));
        return 125;
      }
      if (e instanceof LodgerError) {
        this.context.stderr.write(`lodger: ${e.message}\n`);
        return e.exitCode;
      }
      const err = e as Error;
      this.context.stderr.write(`lodger: internal error: ${err && err.stack ? err.stack : String(e)}\n`);
      return 125;
    }
  }

  /**
   * Docker's way with several objects: act on each, print what failed as one line, go on with the
   * rest, and exit non-zero if any failed. FN returns the line to print for a success (or nothing).
   */
  async eachRef(refs: string[], fn: (ref: string) => Promise<string | string[] | void>, failCode = 125): Promise<number> {
    let code = 0;
    for (const ref of refs) {
      try {
        const out = await fn(ref);
        for (const line of out === undefined ? [] : Array.isArray(out) ? out : [out]) this.context.stdout.write(line + '\n');
      } catch (e) {
        if (!(e instanceof LodgerError)) throw e;
        this.context.stderr.write(`lodger: ${e.message}\n`);
        code = failCode;
      }
    }
    return code;
  }

  /** Runs FN for each container reference, printing the reference on success (Docker's style). */
  async eachContainer(refs: string[], fn: (id: string) => Promise<void>): Promise<number> {
    const { resolveContainer } = await import('../storage/containers');
    const p = await this.store();
    return this.eachRef(refs, async (ref) => { await fn(resolveContainer(p, ref)); return ref; });
  }

  /** The store paths, honouring --root and LODGER_ROOT; the store's notes go to this command's stderr. */
  async store() {
    const { storePaths } = await import('../storage/paths');
    return storePaths(this.root, this.reporter());
  }

  /**
   * Renders the engine's notes and warnings as lodger has always printed them ("lodger: note: …" on
   * stderr); other events (layer progress) go to LAYER when given, else nowhere.
   */
  reporter(layer?: (e: Extract<EngineEvent, { kind: 'layer' }>) => void): Reporter {
    return (e) => {
      if (e.kind === 'layer') layer?.(e);
      else this.context.stderr.write(`lodger: ${e.kind}: ${e.message}\n`);
    };
  }

  /**
   * This terminal for a foreground container or exec'd process: our own fds 0-2 (the helper inherits
   * them), the terminal's size, and the signals lodger receives relayed to the process until it exits.
   */
  terminalIO(): ContainerIO {
    const out = process.stdout;
    return {
      stdin: 0, stdout: 1, stderr: 2,
      ttySize: { rows: out.rows ?? 24, cols: out.columns ?? 80 },
      relaySignals: relayProcessSignals,
      report: this.reporter(),
    };
  }
}
