// Issue 16 point 8: lodger as an installed tool — shell completion derived from the commands (bash sourced for
// real), container/image/network names from `lodger __complete`, and the quick start's link on the PATH.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lodgerCommand, lodgerEnv, repoRoot, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { mustRun, runCommand } from '../helpers/exec';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ok = lifecyclePrereqs() && requireTool('bash') && requireTool('zsh') && requireTool('fish');
let store: Store;
let bin: string;

/** Runs bash with lodger on its PATH (a link, as the quick start makes), the completion sourced, then SCRIPT. */
async function bashWithCompletion(script: string): Promise<string> {
  const env = { ...lodgerEnv({ store }), PATH: `${bin}:${process.env.PATH}` };
  return mustRun('bash', ['--norc', '--noprofile', '-c', `source <(lodger completion bash) || exit 9\n${script}`], { env });
}

/**
 * zsh with the completion sourced, then a probe per command line: its words as zsh's completion system
 * gives them (words, CURRENT, PREFIX) to the function `complete` registered (_comps), with compadd as the
 * one stand-in — it prints what zsh's default matcher would offer: the matches that begin with PREFIX.
 */
async function zshComplete(words: string[]): Promise<string[]> {
  const env = { ...lodgerEnv({ store }), PATH: `${bin}:${process.env.PATH}` };
  const script = `source <(lodger completion zsh) || exit 9
compadd() { local -a m; m=("\${@[\${@[(i)-]}+1,-1]}"); print -rl -- "\${(M)m[@]:#\${PREFIX}*}"; }
words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; PREFIX=\${words[CURRENT]}
eval "\${_comps[lodger]}"; true`;
  return (await mustRun('zsh', ['-f', '-c', script], { env })).split('\n').filter(Boolean).sort();
}

/** What fish offers for a command line (complete -C), the completion loaded from `lodger completion fish`. */
async function fishComplete(line: string): Promise<string[]> {
  const env = { ...lodgerEnv({ store }), PATH: `${bin}:${process.env.PATH}` };
  const out = await mustRun('fish', ['-N', '-c', `lodger completion fish | source; or exit 9; complete -C ${JSON.stringify(line)}`], { env });
  return out.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
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

  it('zsh (real shell): commands, groups and flags; container, image and network names as bash offers them', async () => {
    expect(await zshComplete(['lodger', 'ru'])).toEqual(['run']);
    expect(await zshComplete(['lodger', 'network', ''])).toEqual(['create', 'inspect', 'list', 'ls', 'remove', 'rm']);
    expect(await zshComplete(['lodger', 'ps', '--fo'])).toEqual(['--format']);
    expect(await zshComplete(['lodger', 'stop', 'compl'])).toEqual(['compl-web']);
    expect(await zshComplete(['lodger', 'rm', '-f', 'compl-web', 'compl'])).toEqual(['compl-web']);
    expect(await zshComplete(['lodger', 'run', '--rm', 'busy'])).toEqual(['busybox']);
    expect(await zshComplete(['lodger', 'network', 'rm', 'compl'])).toEqual(['compl-net']);
    expect(await zshComplete(['lodger', 'run', 'busybox', 'compl'])).not.toContain('compl-web');
  });

  it('fish (real shell): commands, groups and flags; container, image and network names as bash offers them', async () => {
    expect(await fishComplete('lodger ru')).toEqual(['run']);
    expect(await fishComplete('lodger network ')).toEqual(['create', 'inspect', 'list', 'ls', 'remove', 'rm']);
    expect(await fishComplete('lodger ps --fo')).toEqual(['--format']);
    expect(await fishComplete('lodger stop compl')).toEqual(['compl-web']);
    expect(await fishComplete('lodger run --rm busy')).toEqual(['busybox']);
    expect(await fishComplete('lodger network rm compl')).toEqual(['compl-net']);
  });

  it('zsh and fish scripts are written too; another shell is refused; help does not list __complete', async () => {
    const zsh = (await runLodgerOk(['completion', 'zsh'])).stdout;
    expect(zsh).toMatch(/^#compdef lodger\n/);
    expect(zsh).toContain('complete -F _lodger_zsh lodger');
    const fish = (await runLodgerOk(['completion', 'fish'])).stdout;
    expect(fish).toMatch(/complete -c lodger -n __fish_use_subcommand -a '[^']*\brun\b/);
    expect(fish).toContain("-a '(lodger __complete containers 2>/dev/null)'");
    const r = await runLodger(['completion', 'tcsh']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/bash, zsh and fish/);
    expect((await runCommand(lodgerCommand().cmd, [...lodgerCommand().args, '--help'])).stdout).not.toContain('__complete');
  });
});
