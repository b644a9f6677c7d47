// Dockerfile variable substitution and quote removal, as the Dockerfile reference documents them ("Environment replacement").
//
// Written here rather than taken from a library: dockerfile-ast finds variables for an editor but does
// not expand them, and no kept npm package implements Docker's rules (which differ from POSIX sh:
// no command substitution, no field splitting, the escape character is configurable).
//
// The rules, from the reference:
// - `$name` and `${name}` expand to the variable's value, or to nothing when it is unset.
// - `${name:-word}`: word when name is unset or empty; `${name-word}`: word when unset.
// - `${name:+word}`: word when name is set and not empty, else nothing; `${name+word}`: when set.
// - `${name:?msg}` / `${name?msg}`: an error with msg when unset (or empty, with the colon).
// - word may itself contain variables. The escape character (`\`, or the `escape` directive's) before
//   `$` keeps it literal: `\$foo` is `$foo`.
// - Single quotes keep everything literal; double quotes remove themselves and still expand; inside
//   them the escape character only escapes `"`, `$` and itself.
import { BuildError } from './errors';

export type Env = ReadonlyMap<string, string>;

export interface WordOptions {
  escape: string;
  /** Names of variables that were read while expanding (for the cache key of the build args used). */
  used?: Set<string>;
  /** Only expand variables: quotes are ordinary characters (heredoc bodies of COPY). */
  varsOnly?: boolean;
}

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  peek(): string { return this.s[this.pos] ?? ''; }
  next(): string { return this.s[this.pos++] ?? ''; }
  eof(): boolean { return this.pos >= this.s.length; }
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Expands variables in WORD and removes its quotes and escapes: one word in, one string out. */
export function expandWord(word: string, env: Env, o: WordOptions): string {
  const sc = new Scanner(word);
  return readUntil(sc, env, o, '');
}

/** Reads until STOP (unquoted, unescaped) or the end; STOP is consumed. */
function readUntil(sc: Scanner, env: Env, o: WordOptions, stop: string): string {
  let out = '';
  while (!sc.eof()) {
    const ch = sc.peek();
    if (stop && ch === stop) { sc.next(); return out; }
    sc.next();
    if (ch === o.escape && o.varsOnly) {
      // Heredoc text: only an escaped $ loses its escape.
      if (sc.peek() === '$') out += sc.next(); else out += ch;
    } else if (ch === o.escape) {
      // Outside quotes the escape character makes the next character literal (and goes away).
      if (sc.eof()) { out += ch; break; }
      out += sc.next();
    } else if (o.varsOnly && (ch === "'" || ch === '"')) {
      out += ch;
    } else if (ch === "'") {
      out += readSingle(sc);
    } else if (ch === '"') {
      out += readDouble(sc, env, o);
    } else if (ch === '$') {
      out += readDollar(sc, env, o);
    } else {
      out += ch;
    }
  }
  return out;
}

function readSingle(sc: Scanner): string {
  let out = '';
  while (!sc.eof()) {
    const ch = sc.next();
    if (ch === "'") return out;
    out += ch;
  }
  throw new BuildError('BUILD_SYNTAX', `unexpected end of text: a single quote is not closed in ${JSON.stringify(sc.s)}`);
}

function readDouble(sc: Scanner, env: Env, o: WordOptions): string {
  let out = '';
  while (!sc.eof()) {
    const ch = sc.next();
    if (ch === '"') return out;
    if (ch === o.escape) {
      const n = sc.peek();
      if (n === '"' || n === '$' || n === o.escape) { out += sc.next(); continue; }
      out += ch;
      continue;
    }
    if (ch === '$') { out += readDollar(sc, env, o); continue; }
    out += ch;
  }
  throw new BuildError('BUILD_SYNTAX', `unexpected end of text: a double quote is not closed in ${JSON.stringify(sc.s)}`);
}

function lookup(env: Env, name: string, o: WordOptions): string | undefined {
  o.used?.add(name);
  return env.get(name);
}

/** After a `$`: a name, `{…}`, or a lone `$` kept as it is. */
function readDollar(sc: Scanner, env: Env, o: WordOptions): string {
  const ch = sc.peek();
  if (ch === '{') {
    sc.next();
    return readBraced(sc, env, o);
  }
  if (!NAME_START.test(ch)) return '$';
  let name = '';
  while (!sc.eof() && NAME_CHAR.test(sc.peek())) name += sc.next();
  return lookup(env, name, o) ?? '';
}

function readBraced(sc: Scanner, env: Env, o: WordOptions): string {
  let name = '';
  while (!sc.eof() && NAME_CHAR.test(sc.peek())) name += sc.next();
  if (!name) throw new BuildError('BUILD_SYNTAX', `bad substitution in ${JSON.stringify(sc.s)}: \${ must be followed by a variable name`);
  const c = sc.next();
  if (c === '}') return lookup(env, name, o) ?? '';
  let colon = false;
  let op = c;
  if (c === ':') { colon = true; op = sc.next(); }
  if (!['-', '+', '?'].includes(op)) throw new BuildError('BUILD_SYNTAX', `bad substitution in ${JSON.stringify(sc.s)}: unsupported modifier "${colon ? ':' : ''}${op}" after \${${name}`);
  // The word is expanded like any text, up to the closing brace.
  const word = readUntil(sc, env, o, '}');
  const value = lookup(env, name, o);
  const set = value !== undefined && (!colon || value !== '');
  switch (op) {
    case '-': return set ? value! : word;
    case '+': return set ? word : '';
    default:
      if (set) return value!;
      throw new BuildError('BUILD_VARIABLE', `${name}: ${word || (colon ? 'is not set or empty' : 'is not set')}`);
  }
}

/**
 * Splits TEXT into words at unquoted whitespace, keeping quotes and escapes in the words (they are
 * removed later by expandWord) — how Docker splits `ENV a=1 b="x y"` and LABEL into name=value words.
 */
export function splitWords(text: string, escape: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (!quote && /\s/.test(ch)) {
      if (inWord) { out.push(cur); cur = ''; inWord = false; }
      continue;
    }
    inWord = true;
    cur += ch;
    if (ch === escape && quote !== "'" && i + 1 < text.length) {
      cur += text[++i];
      continue;
    }
    if (quote && ch === quote) quote = '';
    else if (!quote && (ch === '"' || ch === "'")) quote = ch;
  }
  if (quote) throw new BuildError('BUILD_SYNTAX', `unexpected end of text: a ${quote === '"' ? 'double' : 'single'} quote is not closed in ${JSON.stringify(text)}`);
  if (inWord) out.push(cur);
  return out;
}

/**
 * `NAME=VALUE …` pairs (ENV, LABEL, ARG's default), each side expanded; ENV and LABEL also take the
 * legacy one-pair form `NAME VALUE`, where the value is the rest of the line.
 */
export function nameValuePairs(text: string, env: Env, o: WordOptions, legacy: boolean): Array<[string, string]> {
  const words = splitWords(text, o.escape);
  if (words.length === 0) return [];
  if (!words[0].includes('=')) {
    if (!legacy) throw new BuildError('BUILD_SYNTAX', `expected NAME=VALUE, got ${JSON.stringify(words[0])}`);
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(text);
    if (!m) throw new BuildError('BUILD_SYNTAX', `${JSON.stringify(text)}: expected NAME=VALUE or NAME VALUE`);
    return [[expandWord(m[1], env, o), expandWord(m[2].trim(), env, o)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new BuildError('BUILD_SYNTAX', `${JSON.stringify(w)}: expected NAME=VALUE (a mix of NAME=VALUE and NAME VALUE forms is not allowed)`);
    return [expandWord(w.slice(0, eq), env, o), expandWord(w.slice(eq + 1), env, o)];
  });
}
