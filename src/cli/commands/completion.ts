// `lodger completion SHELL`: a completion script for bash, zsh or fish; `lodger __complete KIND`: the names it completes.
import { Command, Option, UsageError } from 'clipanion';
import { LodgerCommand } from '../base';
import { NAME_KINDS, type NameKind } from '../completion/spec';

export class CompletionCommand extends LodgerCommand {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    description: 'Print a shell completion script (bash, zsh or fish)',
    details: 'The script knows every command and flag of this lodger; container, image, network and volume names it asks for when completing (`lodger __complete KIND`).',
    examples: [
      ['Now, in bash', 'source <(lodger completion bash)'],
      ['For every new bash', 'lodger completion bash > ~/.local/share/bash-completion/completions/lodger'],
      ['zsh', 'lodger completion zsh > "${fpath[1]}/_lodger"'],
      ['fish', 'lodger completion fish > ~/.config/fish/completions/lodger.fish'],
    ],
  });
  shell = Option.String({ name: 'SHELL' });

  async run(): Promise<number> {
    const { allCommands } = await import('../allCommands');
    const { completionSpec } = await import('../completion/spec');
    const scripts = await import('../completion/scripts');
    const write = { bash: scripts.bashScript, zsh: scripts.zshScript, fish: scripts.fishScript }[this.shell];
    if (!write) throw new UsageError(`completion ${this.shell}: lodger writes completion for bash, zsh and fish`);
    this.context.stdout.write(write(completionSpec(await allCommands())));
    return 0;
  }
}

/** Hidden: one name a line, for the completion scripts. No usage, so help does not list it. */
export class CompleteNamesCommand extends LodgerCommand {
  static override paths = [['__complete']];
  kind = Option.String({ name: 'KIND' });

  async run(): Promise<number> {
    if (!NAME_KINDS.includes(this.kind as NameKind)) throw new UsageError(`__complete ${this.kind}: one of ${NAME_KINDS.join(', ')}`);
    const p = await this.store();
    let names: string[] = [];
    if (this.kind === 'containers') {
      const { containerEntries } = await import('../../storage/containers');
      names = containerEntries(p).map((c) => c.rec.Name);
    } else if (this.kind === 'images') {
      const { readIndex, readOnlyImages } = await import('../../storage/images');
      // As typed most often: without the default registry and tag (localhost/busybox:latest → busybox).
      for (const i of [...readIndex(p), ...readOnlyImages(p)]) {
        for (const n of i.names) names.push(n, n.replace(/^(localhost|docker\.io(\/library)?)\//, '').replace(/:latest$/, ''));
      }
    } else if (this.kind === 'networks') {
      const { listNetworks } = await import('../../network/userNetwork');
      names = listNetworks(p.root).map((n) => n.name);
    } else {
      const { listVolumes } = await import('../../volumes/volumes');
      names = listVolumes(p).map((v) => v.Name);
    }
    this.context.stdout.write([...new Set(names)].sort().map((n) => n + '\n').join(''));
    return 0;
  }
}
