// The flags `run` and `create` share, generated from the declarations in containers/options.ts, and the CreateOptions they make.
import { Option } from 'clipanion';
import { declaredOptions, type CreateOptions } from '../containers/options';
import { LodgerCommand } from './base';

/**
 * clipanion finds a command's options among its own properties, in the order they were set; the
 * declared ones are set from the table (in its order, which is --help's), before the positionals.
 */
function declareFlags(command: object): true {
  const target = command as Record<string, unknown>;
  for (const [name, d] of declaredOptions()) {
    target[name] = d.kind === 'boolean' ? Option.Boolean(d.flags, false, { description: d.description })
      : d.kind === 'list' ? Option.Array(d.flags, [], { description: d.description })
      : Option.String(d.flags, { description: d.description });
  }
  return true;
}

/** The flags `run` and `create` share, as Docker spells them. */
export abstract class ContainerOptionsCommand extends LodgerCommand {
  /** Not an option: its initializer sets the declared flags (above), so they come before image and command. */
  private readonly flagsDeclared = declareFlags(this);
  image = Option.String({ required: true });
  command = Option.Proxy();

  /** The parsed flags and positionals as createContainer/runContainer take them. */
  createOptions(): CreateOptions {
    void this.flagsDeclared;
    const parsed = this as unknown as Record<string, unknown>;
    const o: Record<string, unknown> = { image: this.image, command: this.command };
    for (const [name, d] of declaredOptions()) o[name] = parsed[name] ?? (d.kind === 'string' ? d.default : undefined);
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    return o as CreateOptions;
  }
}
