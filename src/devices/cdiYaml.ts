// Reads the subset of YAML that CDI spec files are written in (block mappings and sequences, plain and quoted scalars, flow lists), refusing the rest by line.
//
// CDI specs may be JSON or YAML (container-device-interface SPEC.md); `nvidia-ctk cdi generate` writes
// YAML. Those files use block style only: nested mappings, "- " sequences (also at the key's own
// indentation), plain or quoted scalars, and sometimes [] or {} for empty values. That is what this
// reads, per YAML 1.2's core schema for plain scalars (null, booleans, integers, floats). Anchors,
// aliases, tags, block scalars (| >), multi-line plain scalars and several documents are refused with
// the line number, so a spec that needs them is reported, never misread — write such a spec as JSON.
import { LodgerError } from '../errors';

interface Line { no: number; indent: number; text: string }

export class YamlSubsetError extends LodgerError {
  constructor(line: number, message: string) {
    super('CDI_YAML', `line ${line}: ${message}`);
  }
}

/** Removes a comment (" #" outside quotes, or "#" at the start) and trailing blanks. */
function stripComment(s: string): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ' || s[i - 1] === '\t')) {
      return s.slice(0, i).trimEnd();
    }
  }
  return s.trimEnd();
}

function toLines(text: string): Line[] {
  const out: Line[] = [];
  let docs = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const no = i + 1;
    if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new YamlSubsetError(no, 'tabs cannot indent YAML');
    const s = stripComment(raw);
    if (!s.trim()) return;
    if (/^%/.test(s)) throw new YamlSubsetError(no, 'YAML directives are not supported');
    if (s === '---') { if (++docs > 1 || out.length) throw new YamlSubsetError(no, 'only one YAML document per spec file is supported'); return; }
    if (s === '...') return;
    const indent = s.length - s.trimStart().length;
    out.push({ no, indent, text: s.trimStart() });
  });
  return out;
}

/** Index of the ":" that ends a mapping key in S (followed by a blank or the end), outside quotes; -1 if none. */
function keyColon(s: string): number {
  let i = 0;
  if (s[0] === '"' || s[0] === "'") {
    const q = s[0];
    for (i = 1; i < s.length; i++) {
      if (q === '"' && s[i] === '\\') { i++; continue; }
      if (s[i] === q) { if (q === "'" && s[i + 1] === "'") { i++; continue; } break; }
    }
    i++;
    return s[i] === ':' && (i + 1 === s.length || s[i + 1] === ' ') ? i : -1;
  }
  if (s[0] === '[' || s[0] === '{') return -1;
  for (; i < s.length; i++) if (s[i] === ':' && (i + 1 === s.length || s[i + 1] === ' ')) return i;
  return -1;
}

function unquoteDouble(s: string, no: number): string {
  try {
    return JSON.parse(s.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')) as string;
  } catch {
    throw new YamlSubsetError(no, `bad double-quoted string ${s}`);
  }
}

/** A scalar or a flow collection ([a, b], {}) on one line. */
function scalar(s: string, no: number): unknown {
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) throw new YamlSubsetError(no, `unterminated string ${s} (multi-line strings are not supported)`);
    return unquoteDouble(s, no);
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new YamlSubsetError(no, `unterminated string ${s} (multi-line strings are not supported)`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('[')) return flowSequence(s, no);
  if (s.startsWith('{')) {
    if (/^\{\s*\}$/.test(s)) return {};
    throw new YamlSubsetError(no, 'flow mappings ({k: v}) are not supported; write the mapping in block style');
  }
  if (/^[&*!|>]/.test(s)) throw new YamlSubsetError(no, `anchors, aliases, tags and block scalars are not supported (${s.slice(0, 20)})`);
  if (/^(null|Null|NULL|~)$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?[0-9]+$/.test(s)) return Number(s);
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  return s;
}

/** [a, "b, c", 'd'] — scalars only. */
function flowSequence(s: string, no: number): unknown[] {
  if (!s.endsWith(']')) throw new YamlSubsetError(no, `unterminated flow sequence ${s} (multi-line flow collections are not supported)`);
  const body = s.slice(1, -1).trim();
  if (!body) return [];
  const items: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"') cur += body[++i] ?? '';
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") { quote = c; cur += c; }
    else if (c === '[' || c === '{') throw new YamlSubsetError(no, 'nested flow collections are not supported');
    else if (c === ',') { items.push(cur.trim()); cur = ''; }
    else cur += c;
  }
  if (cur.trim()) items.push(cur.trim());
  return items.map((x) => scalar(x, no));
}

class Parser {
  private i = 0;
  constructor(private readonly lines: Line[]) {}

  parseDocument(): unknown {
    if (this.lines.length === 0) return null;
    const first = this.lines[0];
    const v = this.block(first.indent);
    if (this.i < this.lines.length) {
      const l = this.lines[this.i];
      throw new YamlSubsetError(l.no, `unexpected indentation or content: ${l.text}`);
    }
    return v;
  }

  private peek(): Line | undefined { return this.lines[this.i]; }

  private isItem(l: Line): boolean { return l.text === '-' || l.text.startsWith('- '); }

  private block(indent: number): unknown {
    const l = this.peek()!;
    if (this.isItem(l)) return this.sequence(indent);
    if (keyColon(l.text) >= 0) return this.mapping(indent);
    this.i++;
    const v = scalar(l.text, l.no);
    const next = this.peek();
    if (next && next.indent > indent) throw new YamlSubsetError(next.no, 'multi-line plain scalars are not supported; quote the value on one line');
    return v;
  }

  /** The value after "key:" or "-" when nothing follows on that line: a nested block, or null. */
  private nested(parentIndent: number, allowSameIndentSequence: boolean): unknown {
    const next = this.peek();
    if (!next) return null;
    if (next.indent > parentIndent) return this.block(next.indent);
    if (allowSameIndentSequence && next.indent === parentIndent && this.isItem(next)) return this.sequence(parentIndent);
    return null;
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (let l = this.peek(); l && l.indent === indent && this.isItem(l); l = this.peek()) {
      const rest = l.text === '-' ? '' : l.text.slice(2).trimStart();
      if (!rest) { this.i++; out.push(this.nested(indent, false)); continue; }
      // "- key: value" opens a mapping whose keys line up with "key".
      const col = indent + (l.text.length - rest.length);
      if (keyColon(rest) >= 0 || rest === '-' || rest.startsWith('- ')) {
        this.lines[this.i] = { no: l.no, indent: col, text: rest };
        out.push(this.block(col));
        continue;
      }
      this.i++;
      out.push(scalar(rest, l.no));
      const next = this.peek();
      if (next && next.indent > indent) throw new YamlSubsetError(next.no, 'multi-line plain scalars are not supported; quote the value on one line');
    }
    return out;
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let l = this.peek(); l && l.indent === indent; l = this.peek()) {
      if (this.isItem(l)) throw new YamlSubsetError(l.no, 'a sequence item where a mapping key was expected');
      const c = keyColon(l.text);
      if (c < 0) throw new YamlSubsetError(l.no, `expected "key: value", got ${l.text}`);
      const rawKey = l.text.slice(0, c).trim();
      if (rawKey.startsWith('? ') || rawKey === '?') throw new YamlSubsetError(l.no, 'complex mapping keys are not supported');
      const key = String(scalar(rawKey, l.no));
      if (key === '<<') throw new YamlSubsetError(l.no, 'merge keys (<<) are not supported');
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new YamlSubsetError(l.no, `duplicate key ${key}`);
      const rest = l.text.slice(c + 1).trim();
      this.i++;
      // defineProperty: a key named "__proto__" is data, as JSON.parse makes it, not the prototype.
      Object.defineProperty(out, key, { value: rest ? scalar(rest, l.no) : this.nested(indent, true), enumerable: true, writable: true, configurable: true });
      if (rest) {
        const next = this.peek();
        if (next && next.indent > indent) throw new YamlSubsetError(next.no, 'multi-line plain scalars are not supported; quote the value on one line');
      }
    }
    return out;
  }
}

/** Parses TEXT (one YAML document in the supported subset) to plain JSON-like values. */
export function parseYamlSubset(text: string): unknown {
  return new Parser(toLines(text)).parseDocument();
}
