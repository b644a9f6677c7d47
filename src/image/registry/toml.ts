// A small TOML v1.0 subset parser, enough for containers-registries.conf(5): tables, arrays of tables, strings, numbers, booleans, arrays, inline tables.
//
// Why not a library: registries.conf uses a tiny part of TOML and we want errors that name the file
// and line. What is left out on purpose (dates and times, hexadecimal/octal/binary integers,
// special floats) is refused with a clear message rather than misread. Grammar: https://toml.io/en/v1.0.0

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
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

const BARE_KEY = /[A-Za-z0-9_-]/;

class Parser {
  private pos = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  fail(message: string): never {
    throw new TomlSyntaxError(this.line, message);
  }

  private peek(offset = 0): string {
    return this.text[this.pos + offset] ?? '';
  }

  private next(): string {
    const c = this.text[this.pos++] ?? '';
    if (c === '\n') this.line++;
    return c;
  }

  private startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** Spaces and tabs only (TOML whitespace); newlines are significant between key/value pairs. */
  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  private skipComment(): void {
    if (this.peek() === '#') while (this.pos < this.text.length && this.peek() !== '\n') this.pos++;
  }

  /** Whitespace, newlines and comments: allowed between array elements and between statements. */
  private skipBlank(): void {
    for (;;) {
      this.skipSpaces();
      this.skipComment();
      if (this.peek() === '\n') { this.next(); continue; }
      if (this.peek() === '\r' && this.peek(1) === '\n') { this.pos++; this.next(); continue; }
      return;
    }
  }

  /** After a statement only a comment and the end of the line may follow. */
  private endOfLine(): void {
    this.skipSpaces();
    this.skipComment();
    if (this.pos >= this.text.length) return;
    if (this.peek() === '\r' && this.peek(1) === '\n') { this.pos++; this.next(); return; }
    if (this.peek() === '\n') { this.next(); return; }
    this.fail(`unexpected ${JSON.stringify(this.peek())} after value`);
  }

  parse(): TomlTable {
    const root: TomlTable = {};
    let current = root;
    const defined = new Set<TomlTable>();
    for (;;) {
      this.skipBlank();
      if (this.pos >= this.text.length) return root;
      if (this.peek() === '[') {
        const isArray = this.peek(1) === '[';
        this.pos += isArray ? 2 : 1;
        this.skipSpaces();
        const keys = this.parseKey();
        this.skipSpaces();
        if (!this.startsWith(isArray ? ']]' : ']')) this.fail(`expected "${isArray ? ']]' : ']'}" to close the table header`);
        this.pos += isArray ? 2 : 1;
        current = isArray ? this.appendTable(root, keys) : this.openTable(root, keys, defined);
        this.endOfLine();
        continue;
      }
      this.parseKeyValue(current);
      this.endOfLine();
    }
  }

  /** `[a.b]`: walks (creating) tables; an array of tables on the way means its last element. */
  private openTable(root: TomlTable, keys: string[], defined: Set<TomlTable>): TomlTable {
    let t = root;
    for (const k of keys.slice(0, -1)) t = this.descend(t, k);
    const last = keys[keys.length - 1];
    if (Array.isArray(t[last])) this.fail(`[${keys.join('.')}] names an array of tables; use [[${keys.join('.')}]]`);
    t = this.descend(t, last);
    if (defined.has(t)) this.fail(`table [${keys.join('.')}] is defined twice`);
    defined.add(t);
    return t;
  }

  private appendTable(root: TomlTable, keys: string[]): TomlTable {
    let t = root;
    for (const k of keys.slice(0, -1)) t = this.descend(t, k);
    const last = keys[keys.length - 1];
    const existing = t[last];
    const fresh: TomlTable = {};
    if (existing === undefined) t[last] = [fresh];
    else if (Array.isArray(existing)) existing.push(fresh);
    else this.fail(`[[${keys.join('.')}]] conflicts with a key or table of the same name`);
    return fresh;
  }

  private descend(t: TomlTable, k: string): TomlTable {
    const v = t[k];
    if (v === undefined) { const n: TomlTable = {}; t[k] = n; return n; }
    if (Array.isArray(v)) {
      const last = v[v.length - 1];
      if (isTable(last)) return last;
      this.fail(`"${k}" is an array of values, not of tables`);
    }
    if (isTable(v)) return v;
    return this.fail(`"${k}" is a value, not a table`);
  }

  private parseKeyValue(table: TomlTable): void {
    const keys = this.parseKey();
    this.skipSpaces();
    if (this.next() !== '=') this.fail(`expected "=" after key "${keys.join('.')}"`);
    this.skipSpaces();
    const value = this.parseValue();
    let t = table;
    for (const k of keys.slice(0, -1)) t = this.descend(t, k);
    const last = keys[keys.length - 1];
    if (Object.prototype.hasOwnProperty.call(t, last)) this.fail(`key "${keys.join('.')}" is defined twice`);
    t[last] = value;
  }

  private parseKey(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '"') keys.push(this.parseBasicString());
      else if (c === "'") keys.push(this.parseLiteralString());
      else {
        const start = this.pos;
        while (BARE_KEY.test(this.peek())) this.pos++;
        if (start === this.pos) this.fail(c ? `unexpected ${JSON.stringify(c)} where a key was expected` : 'unexpected end of file where a key was expected');
        keys.push(this.text.slice(start, this.pos));
      }
      this.skipSpaces();
      if (this.peek() !== '.') return keys;
      this.pos++;
    }
  }

  private parseValue(): TomlValue {
    const c = this.peek();
    if (this.startsWith('"""')) return this.parseMultilineBasic();
    if (this.startsWith("'''")) return this.parseMultilineLiteral();
    if (c === '"') return this.parseBasicString();
    if (c === "'") return this.parseLiteralString();
    if (c === '[') return this.parseArray();
    if (c === '{') return this.parseInlineTable();
    if (this.startsWith('true') && !BARE_KEY.test(this.peek(4))) { this.pos += 4; return true; }
    if (this.startsWith('false') && !BARE_KEY.test(this.peek(5))) { this.pos += 5; return false; }
    const m = /^[+-]?[0-9][0-9_]*(\.[0-9_]+)?([eE][+-]?[0-9_]+)?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (m) {
      const after = this.text[this.pos + m[0].length] ?? '';
      if (/[-:T0-9xob]/.test(after)) this.fail('dates, times and non-decimal numbers are not supported here');
      this.pos += m[0].length;
      const n = Number(m[0].replace(/_/g, ''));
      if (!Number.isFinite(n)) this.fail(`bad number ${m[0]}`);
      return n;
    }
    return this.fail(c ? `unexpected ${JSON.stringify(c)} where a value was expected` : 'unexpected end of file where a value was expected');
  }

  private parseArray(): TomlValue[] {
    this.next(); // [
    const out: TomlValue[] = [];
    for (;;) {
      this.skipBlank();
      if (this.peek() === ']') { this.next(); return out; }
      out.push(this.parseValue());
      this.skipBlank();
      if (this.peek() === ',') { this.next(); continue; }
      if (this.peek() === ']') { this.next(); return out; }
      this.fail('expected "," or "]" in array');
    }
  }

  private parseInlineTable(): TomlTable {
    this.next(); // {
    const t: TomlTable = {};
    this.skipSpaces();
    if (this.peek() === '}') { this.next(); return t; }
    for (;;) {
      this.parseKeyValue(t);
      this.skipSpaces();
      const c = this.next();
      if (c === '}') return t;
      if (c !== ',') this.fail('expected "," or "}" in inline table');
      this.skipSpaces();
    }
  }

  private parseBasicString(): string {
    this.next(); // "
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === '') this.fail('unterminated string');
      if (c === '\n') this.fail('newline inside a single-line string');
      if (c === '"') return out;
      out += c === '\\' ? this.parseEscape() : c;
    }
  }

  private parseEscape(): string {
    const e = this.next();
    switch (e) {
      case '"': return '"';
      case '\\': return '\\';
      case 'b': return '\b';
      case 't': return '\t';
      case 'n': return '\n';
      case 'f': return '\f';
      case 'r': return '\r';
      case 'u':
      case 'U': {
        const len = e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        this.pos += len;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(`\\${e}${hex} is not a Unicode scalar value`);
        return String.fromCodePoint(cp);
      }
      default:
        return this.fail(`unknown escape \\${e}`);
    }
  }

  private parseLiteralString(): string {
    this.next(); // '
    const start = this.pos;
    for (;;) {
      const c = this.next();
      if (c === '') this.fail('unterminated string');
      if (c === '\n') this.fail('newline inside a single-line string');
      if (c === "'") return this.text.slice(start, this.pos - 1);
    }
  }

  private parseMultilineBasic(): string {
    this.pos += 3;
    if (this.peek() === '\n') this.next();
    else if (this.startsWith('\r\n')) { this.pos++; this.next(); }
    let out = '';
    for (;;) {
      if (this.startsWith('"""')) { this.pos += 3; return out; }
      const c = this.next();
      if (c === '') this.fail('unterminated multi-line string');
      if (c !== '\\') { out += c; continue; }
      // A backslash at the end of a line trims the newline and the whitespace that follows (TOML "line ending backslash").
      if (/^[ \t]*\r?\n/.test(this.text.slice(this.pos, this.pos + 64))) {
        while (/[ \t\r\n]/.test(this.peek())) this.next();
        continue;
      }
      out += this.parseEscape();
    }
  }

  private parseMultilineLiteral(): string {
    this.pos += 3;
    if (this.peek() === '\n') this.next();
    else if (this.startsWith('\r\n')) { this.pos++; this.next(); }
    const start = this.pos;
    for (;;) {
      if (this.startsWith("'''")) { const s = this.text.slice(start, this.pos); this.pos += 3; return s; }
      if (this.next() === '') this.fail('unterminated multi-line string');
    }
  }
}

export function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses TOML text; throws TomlSyntaxError with a line number. */
export function parseToml(text: string): TomlTable {
  return new Parser(text.replace(/^\uFEFF/, '')).parse();
}
