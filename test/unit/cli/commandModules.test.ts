// The CLI loads a command's module (one per command) only for the first words BY_WORD gives it (cli/app.ts): every
// command must be reachable that way, and help must still list them all.
import { describe, expect, it } from 'vitest';
import { BY_WORD, COMMAND_MODULES, commandsFor, type CommandModule } from '../../../src/cli/app';

const modules = Object.entries(COMMAND_MODULES) as Array<[CommandModule, () => Promise<Array<{ paths?: string[][] }>>]>;

describe('which command modules a command line loads', () => {
  it('the first word of every command path loads the module that defines it', async () => {
    for (const [name, load] of modules) {
      for (const c of await load()) {
        for (const path of c.paths ?? []) {
          expect(BY_WORD[path[0]], `"${path.join(' ')}" (${name})`).toContain(name);
        }
      }
    }
  });

  it('a word loads no module without a command that starts with it', async () => {
    for (const [word, names] of Object.entries(BY_WORD)) {
      for (const n of names) expect((await COMMAND_MODULES[n]()).some((c) => c.paths?.some((p) => p[0] === word)), `${word} → ${n}`).toBe(true);
    }
  });

  it('help and a typo load every command; a group word loads its group only', async () => {
    const all = (await Promise.all(modules.map(([, load]) => load()))).flat();
    expect(all.length).toBeGreaterThan(40);
    for (const w of [undefined, '--help', 'rnu']) expect(await commandsFor(w)).toEqual(all);
    expect((await commandsFor('run')).map((c) => c.name)).toEqual(['RunCommand']);
    const network = (await commandsFor('network')).map((c) => c.name).sort();
    expect(network).toEqual(['NetworkCreateCommand', 'NetworkInspectCommand', 'NetworkLsCommand', 'NetworkRmCommand']);
    expect((await commandsFor('container')).map((c) => c.name)).toContain('RunCommand');
    expect((await commandsFor('container')).map((c) => c.name)).not.toContain('PullCommand');
  });
});
