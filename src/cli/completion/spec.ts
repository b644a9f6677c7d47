// What shell completion knows of lodger, read from the command definitions: every command path, its flags, and which names its arguments take.
import { Cli, type CommandClass } from 'clipanion';

/** Names `lodger __complete KIND` lists. */
export type NameKind = 'containers' | 'images' | 'networks' | 'volumes';
export const NAME_KINDS: NameKind[] = ['containers', 'images', 'networks', 'volumes'];

export interface CompletionEntry {
  /** The words of one path, e.g. ['network', 'rm'] (every alias is an entry of its own). */
  path: string[];
  /** Flags, long and short, e.g. ['-a', '--all']. */
  flags: string[];
  /** Flags that take a value (the next word is theirs, not an argument). */
  valueFlags: string[];
  /** Names the first argument takes, if any; `repeat` when every argument takes them (rm a b c). */
  names: NameKind[];
  repeat: boolean;
}

/**
 * The kind of names an argument takes, from its name in the usage line (`<containers>`, `<IMAGE>`,
 * `<networks>`): one rule for every command, also those added later.
 */
function namesOf(positional: string): NameKind[] {
  const p = positional.toLowerCase();
  if (p.startsWith('object')) return ['containers', 'images'];
  if (p.includes('container')) return ['containers'];
  if (p.includes('image') || p === 'source' || p.startsWith('repository')) return ['images'];
  if (p.includes('network')) return ['networks'];
  if (p.includes('volume')) return ['volumes'];
  return [];
}

export function completionSpec(classes: CommandClass[]): CompletionEntry[] {
  const out: CompletionEntry[] = [];
  for (const cls of classes) {
    const cli = new Cli({ binaryName: 'lodger' });
    cli.register(cls);
    const def = cli.definitions()[0];
    if (!def) continue;
    const flags: string[] = [];
    const valueFlags: string[] = [];
    for (const o of def.options) {
      const [names, arg] = o.definition.split(' ');
      for (const n of names.split(',')) { flags.push(n); if (arg) valueFlags.push(n); }
    }
    // The usage line without its options: `lodger rm <containers> ...`, `lodger stats ...`.
    const rest = def.usage.replace(/\[[^\]]*\]/g, ' ').split(/\s+/).filter(Boolean).slice(def.path.split(' ').length);
    const first = /^<([^>]+)>$/.exec(rest[0] ?? '')?.[1];
    let names = first ? namesOf(first) : [];
    // `stats ...`: containers, any number.
    if (!first && rest[0] === '...' && def.path.endsWith(' stats')) names = ['containers'];
    const repeat = !first || /s$/.test(first) ? rest.includes('...') : false;
    for (const p of (cls as unknown as { paths?: string[][] }).paths ?? []) {
      if (p[0].startsWith('_') || p[0].startsWith('-')) continue;  // internal, or --version
      out.push({ path: p, flags, valueFlags, names, repeat });
    }
  }
  return out.sort((a, b) => a.path.join(' ').localeCompare(b.path.join(' ')));
}
