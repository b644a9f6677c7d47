// Vitest global setup: refuses root for integration runs, builds the cheap shared fixtures once, and hands their paths to tests.
import type { TestProject } from 'vitest/node';
import { cachedBusybox, type BusyboxFixture } from './fixtures';
import { currentUid, repoRoot, runCacheDir } from './paths';
import { requirePrereq } from './prereqs';
import { makeStore } from './store';

export interface SharedFixtures {
  repoRoot: string;
  /** Per-user cache of this run's cheap fixtures (os.tmpdir()/lodger-test-<uid>). */
  cacheDir: string;
  /** null only outside CI, when busybox-static is missing. */
  busybox: BusyboxFixture | null;
  /** A scratch store for tests that do not make their own (runLodger's default). */
  defaultRoot: string;
  defaultRuntimeDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    lodger: SharedFixtures;
  }
}

// Options of `vitest run` whose value may follow as the next argument, so it is not taken for a file filter.
const optionsWithValue = new Set([
  '--config', '-c', '--root', '-r', '--dir', '--project', '--reporter', '--outputFile', '--testNamePattern', '-t',
  '--pool', '--environment', '--shard', '--exclude', '--maxWorkers', '--retry', '--bail', '--mode', '--testTimeout',
  '--hookTimeout', '--sequence.seed', '--coverage.provider', '--inspect', '--inspect-brk',
]);

/** The file filters of the vitest command line (`vitest run test/unit foo`), best effort. */
function cliFilters(argv: readonly string[]): string[] {
  const i = argv.findIndex((a) => /[\\/]vitest(\.m?js)?$/.test(a) || a.endsWith('vitest.mjs'));
  const rest = argv.slice(i + 1);
  const filters: string[] = [];
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j]!;
    if (a.startsWith('-')) {
      if (!a.includes('=') && optionsWithValue.has(a)) j++;
      continue;
    }
    if (j === 0 && ['run', 'watch', 'dev', 'related'].includes(a)) continue;
    filters.push(a);
  }
  return filters;
}

/**
 * Integration and security tests exercise user namespaces as an ordinary user would; as root they would
 * test something else. Unit tests alone may run as root. (cli.ts checks again, for any test that runs lodger.)
 */
async function refuseRootForIntegration(project: TestProject): Promise<void> {
  if (currentUid() !== 0) return;
  const { testFiles } = await project.globTestFiles(cliFilters(process.argv));
  const privileged = testFiles.filter((f) => /[\\/]test[\\/](integration|security)[\\/]/.test(f));
  if (privileged.length > 0) {
    throw new Error(
      `${privileged.length} integration/security test file(s) selected while running as root. ` +
        'They must run as an unprivileged user with a subuid range, e.g. ' +
        '`runuser -u lodgertest -- npx vitest run` (or select only test/unit).',
    );
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await refuseRootForIntegration(project);

  let busybox: BusyboxFixture | null = null;
  if (requirePrereq(process.platform === 'linux', 'lodger tests need Linux')) {
    try {
      busybox = await cachedBusybox();
    } catch (e) {
      requirePrereq(false, `busybox fixture: ${(e as Error).message}`);
    }
  }

  const scratch = makeStore('lodger-default-store-');
  // Environment too, not only provide(): helpers read it without importing vitest (workers inherit it).
  process.env.LODGER_TEST_DEFAULT_ROOT = scratch.root;
  process.env.LODGER_TEST_DEFAULT_RUNTIME = scratch.runtimeDir;

  project.provide('lodger', {
    repoRoot,
    cacheDir: runCacheDir(),
    busybox,
    defaultRoot: scratch.root,
    defaultRuntimeDir: scratch.runtimeDir,
  });

  return async () => {
    await scratch.cleanup();
  };
}
