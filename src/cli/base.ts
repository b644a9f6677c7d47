// The base of every lodger command: --root, and errors printed as one line (no stack) with Docker's exit codes.
import { Command, Option, UsageError } from 'clipanion';
import { LodgerError } from '../errors';

export abstract class LodgerCommand extends Command {
  root = Option.String('--root', { description: 'Store directory (default $LODGER_ROOT or ~/.local/share/lodger)', hidden: true });

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    if (this.root) process.env.LODGER_ROOT = this.root;
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

  /** The store paths, honouring --root and LODGER_ROOT. */
  async store() {
    const { storePaths } = await import('../storage/paths');
    return storePaths(this.root);
  }
}
