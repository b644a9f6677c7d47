// What the `lodger build` integration files share: a busybox store and a scratch directory per file, context directories, and build/run calls.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { removeTree, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { busyboxFixture, busyboxStore, haveSubids } from './foundation-common';

export const buildPrereqs = (): boolean => haveSubids() && busyboxFixture() !== null;

export interface BuildKit {
  /** The file's store (set in beforeAll). */
  store(): Store;
  /** The file's scratch directory (set in beforeAll). */
  work(): string;
  /** A fresh context directory with FILES (path → content; a Dockerfile among them). */
  context(files: Record<string, string | Buffer>): string;
  build(args: string[]): ReturnType<typeof runLodger>;
  buildOk(args: string[]): ReturnType<typeof runLodgerOk>;
  /** `run --rm ARGS` in the store; its stdout. */
  run(args: string[]): Promise<string>;
}

/** Registers the file's beforeAll/afterAll (nothing when OK is false) and returns its helpers. */
export function useBuildKit(ok: boolean, prefix: string): BuildKit {
  let store: Store | undefined;
  let work: string | undefined;
  let n = 0;
  beforeAll(async () => {
    if (!ok) return;
    store = await busyboxStore();
    work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }, 60_000);
  afterAll(async () => {
    if (store) await store.cleanup();
    if (work) await removeTree(work);
  });
  const kit: BuildKit = {
    store: () => store!,
    work: () => work!,
    context(files) {
      const dir = path.join(work!, `ctx${++n}`);
      for (const [f, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
      }
      return dir;
    },
    build: (args) => runLodger(['build', ...args], { store: store!, timeoutMs: 120_000 }),
    buildOk: (args) => runLodgerOk(['build', ...args], { store: store!, timeoutMs: 120_000 }),
    run: async (args) => (await runLodgerOk(['run', '--rm', ...args], { store: store! })).stdout,
  };
  return kit;
}
