// Issue 16 point 8: lodger as an installed tool — shell completion derived from the commands (bash sourced for
// real), container/image/network names from `lodger __complete`, and the quick start's link on the PATH.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lodgerCommand, lodgerEnv, repoRoot, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { mustRun, runCommand } from '../helpers/exec';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ok = lifecyclePrereqs() && requireTool('bash');
let store: Store;
let bin: string;

/** Runs bash with lodger on its PATH (a link, as the quick start makes), the completion sourced, then SCRIPT. */
async function bashWithCompletion(script: string): Promise<string> {
  const env = { ...lodgerEnv({ store }), PATH: `${bin}:${process.env.PATH}` };
  return mustRun('bash', ['--norc', '--noprofile', '-c', `source <(lodger completion bash) || exit 9\n${script}`], { env });
}

/** COMPREPLY for the words of a command line whose last word is being completed. */
const reply = (words: string[]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _lodger; printf '%s\\n' "\${COMPREPLY[@]}"`;

describe.skipIf(!ok)('completion', () => {
  beforeAll(async () => {
    store = await busyboxStore('lodger-compl-');
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-bin-'));
    // The quick start's link: ~/.local/bin/lodger → the checkout's bin/lodger (scripts/quickstart.sh).
    fs.symlinkSync(path.join(repoRoot, 'bin', 'lodger'), path.join(bin, 'lodger'));
    await runLodgerOk(['run', '-d', '--name', 'compl-web', 'busybox', 'sleep', '600'], { store });
    await runLodgerOk(['network', 'create', 'compl-net'], { store });
  }, 60_000);
  afterAll(async () => {
    await runLodger(['network', 'rm', 'compl-net'], { store });
    await dropStore(store);
    fs.rmSync(bin, { recursive: true, force: true });
  });

  it('bash: the script registers _lodger and completes commands, groups and flags from the definitions', async () => {
    expect(await bashWithCompletion('complete -p lodger')).toBe('complete -F _lodger lodger\n');
    expect(await bashWithCompletion(reply(['lodger', 'ru']))).toBe('run\n');
    expect((await bashWithCompletion(reply(['lodger', 'network', '']))).split('\n').filter(Boolean).sort()).toEqual(['create', 'inspect', 'list', 'ls', 'remove', 'rm']);
    expect(await bashWithCompletion(reply(['lodger', 'ps', '--fo']))).toBe('--format\n');
    expect((await bashWithCompletion(reply(['lodger', 'images', '--f']))).split('\n').filter(Boolean).sort()).toEqual(['--filter', '--format']);
    // a command added later is there without touching the completion code: `completion` itself
    expect(await bashWithCompletion(reply(['lodger', 'complet']))).toBe('completion\n');
  });

  it('bash: container, image and network names come from the store', async () => {
    expect(await bashWithCompletion(reply(['lodger', 'stop', 'compl']))).toBe('compl-web\n');
    expect(await bashWithCompletion(reply(['lodger', 'rm', '-f', 'compl-web', 'compl']))).toBe('compl-web\n');
    expect(await bashWithCompletion(reply(['lodger', 'run', '--rm', 'busy']))).toBe('busybox\n');
    expect(await bashWithCompletion(reply(['lodger', 'network', 'rm', 'compl']))).toBe('compl-net\n');
    expect((await bashWithCompletion(reply(['lodger', 'inspect', 'compl']))).trim()).toBe('compl-web');
    // after run's image come the container's own arguments: no names
    expect(await bashWithCompletion(reply(['lodger', 'run', 'busybox', 'compl']))).not.toContain('compl-web');
    expect((await runLodgerOk(['__complete', 'containers'], { store })).stdout).toBe('compl-web\n');
    await runLodgerOk(['volume', 'create', 'compl-vol'], { store });
    expect(await bashWithCompletion(reply(['lodger', 'volume', 'rm', 'compl']))).toBe('compl-vol\n');
    expect((await runLodger(['__complete', 'pets'], { store })).code).toBe(125);
  });

  it('zsh and fish scripts are written too; another shell is refused; help does not list __complete', async () => {
    const zsh = (await runLodgerOk(['completion', 'zsh'])).stdout;
    expect(zsh).toMatch(/^#compdef lodger\n/);
    expect(zsh).toContain('complete -F _lodger lodger');
    const fish = (await runLodgerOk(['completion', 'fish'])).stdout;
    expect(fish).toMatch(/complete -c lodger -n __fish_use_subcommand -a '[^']*\brun\b/);
    expect(fish).toContain("-a '(lodger __complete containers 2>/dev/null)'");
    const r = await runLodger(['completion', 'tcsh']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/bash, zsh and fish/);
    expect((await runCommand(lodgerCommand().cmd, [...lodgerCommand().args, '--help'])).stdout).not.toContain('__complete');
  });
});
