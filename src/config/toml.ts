// TOML configuration files (registries.conf, storage.conf): parsed by smol-toml, errors with a line for the caller's message.
export type TomlValue = string | number | boolean | bigint | Date | TomlValue[] | TomlTable;
export interface TomlTable { [key: string]: TomlValue }

/** A syntax error; `line` is 1-based. The caller turns it into a LodgerError naming the file. */
export class TomlSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.name = 'TomlSyntaxError';
    this.line = line;
  }
}

/** Parses TEXT as TOML v1.0; throws TomlSyntaxError with the line and smol-toml's reason (its first line, without the excerpt). */
export function parseToml(text: string): TomlTable {
  // Loaded on first use: run imports this module (layers → additional stores) but rarely reads a TOML file.
  const { parse, TomlError } = require('smol-toml') as typeof import('smol-toml');
  try {
    return parse(text) as TomlTable;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
    throw new TomlSyntaxError(e.line, reason);
  }
}

export function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
