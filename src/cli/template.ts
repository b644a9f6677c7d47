// Go text/template as Docker's --format uses it: fields, pipelines, if/with/range, Go's builtins and Docker's functions.
//
// Hand-written because no kept npm package fits: @ctrl/golang-template (the one maintained Go-template
// port) has no pipelines, no function table (so no `json`, `printf`, `len`, `eq`), and prints nothing
// for an unknown field where Docker's formatter fails. The grammar followed is text/template's
// (pkg.go.dev/text/template): `{{- x -}}` trims spaces, `.A.B` walks fields, `$` is the top value,
// `f a b | g` passes the result as g's last argument, `(…)` groups.
import { LodgerError } from '../errors';

/** What a template may look at: which objects are maps (a missing key is `<no value>`, as in Go). */
export interface TemplateOptions {
  /** Field names whose values are maps keyed by the user (labels, options…): any key may be asked. */
  maps?: ReadonlySet<string>;
}

type Arg =
  | { k: 'field'; base: 'dot' | 'root'; path: string[] }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'ident'; name: string }
  | { k: 'pipe'; pipe: Cmd[] };
type Cmd = Arg[];
type Node =
  | { t: 'text'; v: string }
  | { t: 'out'; pipe: Cmd[]; src: string }
  | { t: 'if' | 'with' | 'range'; pipe: Cmd[]; src: string; body: Node[]; alt: Node[] };

export class TemplateError extends LodgerError {
  constructor(message: string) {
    super('BAD_FORMAT', `--format: ${message}`);
  }
}

// ---- lexing: text and actions, with Go's trim markers ({{- and -}} eat the spaces beside them).

function split(src: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) { if (text) out.push({ text }); return out; }
    let start = open + 2;
    if (/^-\s/.test(src.slice(start))) { text = text.replace(/\s+$/, ''); start++; }
    if (text) out.push({ text });
    const close = findClose(src.slice(start));
    if (close < 0) throw new TemplateError(`unclosed action in ${JSON.stringify(src)}`);
    let action = src.slice(start, start + close);
    trimNext = /\s-$/.test(action);
    if (trimNext) action = action.slice(0, -1);
    out.push({ action: action.trim() });
    i = start + close + 2;
  }
}

/** Where an action ends: the first `}}` outside a string literal. */
function findClose(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === '`') {
      const end = c === '"' ? /^"(?:[^"\\]|\\.)*"/.exec(s.slice(i)) : /^`[^`]*`/.exec(s.slice(i));
      if (!end) return -1;
      i += end[0].length - 1;
    } else if (c === '}' && s[i + 1] === '}') return i;
  }
  return -1;
}

function lexAction(s: string): string[] {
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||\(|\)|\$?[A-Za-z0-9_.$-]+|\S)/gy;
  const out: string[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push(m[1]);
  return out;
}

// ---- parsing: actions into pipelines, control words into nested nodes.

function parsePipeline(words: string[], src: string): Cmd[] {
  const pos = { i: 0 };
  const pipe = parsePipe(words, pos, src);
  if (pos.i < words.length) throw new TemplateError(`unexpected ${JSON.stringify(words[pos.i])} in {{${src}}}`);
  return pipe;
}

function parsePipe(words: string[], pos: { i: number }, src: string): Cmd[] {
  const cmds: Cmd[] = [[]];
  while (pos.i < words.length && words[pos.i] !== ')') {
    const w = words[pos.i++];
    if (w === '|') { if (!cmds[cmds.length - 1].length) throw new TemplateError(`missing command before | in {{${src}}}`); cmds.push([]); continue; }
    if (w === '(') {
      const inner = parsePipe(words, pos, src);
      if (words[pos.i++] !== ')') throw new TemplateError(`unclosed ( in {{${src}}}`);
      cmds[cmds.length - 1].push({ k: 'pipe', pipe: inner });
      continue;
    }
    cmds[cmds.length - 1].push(parseArg(w, src));
  }
  if (!cmds[cmds.length - 1].length) throw new TemplateError(`missing value in {{${src}}}`);
  return cmds;
}

function parseArg(w: string, src: string): Arg {
  if (w.startsWith('"')) return { k: 'str', v: JSON.parse(w) as string };
  if (w.startsWith('`')) return { k: 'str', v: w.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(w)) return { k: 'num', v: Number(w) };
  if (w === 'true' || w === 'false') return { k: 'bool', v: w === 'true' };
  if (w === 'nil') return { k: 'nil' };
  if (w === '.') return { k: 'field', base: 'dot', path: [] };
  if (w.startsWith('.')) return { k: 'field', base: 'dot', path: w.slice(1).split('.') };
  if (w === '$') return { k: 'field', base: 'root', path: [] };
  if (w.startsWith('$.')) return { k: 'field', base: 'root', path: w.slice(2).split('.') };
  if (/^[A-Za-z_]\w*$/.test(w)) return { k: 'ident', name: w };
  throw new TemplateError(`cannot read ${JSON.stringify(w)} in {{${src}}} (variables other than $ are not supported)`);
}

function parseNodes(toks: ReturnType<typeof split>, pos: { i: number }, stops: string[]): { nodes: Node[]; stop?: string; rest?: string } {
  const nodes: Node[] = [];
  while (pos.i < toks.length) {
    const tok = toks[pos.i++];
    if ('text' in tok) { nodes.push({ t: 'text', v: tok.text }); continue; }
    const a = tok.action;
    if (a.startsWith('/*')) continue;  // a comment
    const word = /^\w+/.exec(a)?.[0] ?? '';
    if (stops.includes(word)) return { nodes, stop: word, rest: a.slice(word.length).trim() };
    if (word === 'if' || word === 'with' || word === 'range') {
      nodes.push(parseBlock(word, a.slice(word.length).trim(), toks, pos));
    } else if (word === 'end' || word === 'else') {
      throw new TemplateError(`{{${word}}} without a matching if, with or range`);
    } else if (['define', 'template', 'block', 'break', 'continue'].includes(word)) {
      throw new TemplateError(`{{${word}}} is not supported`);
    } else {
      nodes.push({ t: 'out', pipe: parsePipeline(lexAction(a), a), src: a });
    }
  }
  if (stops.length) throw new TemplateError(`missing {{end}}`);
  return { nodes };
}

function parseBlock(word: 'if' | 'with' | 'range', src: string, toks: ReturnType<typeof split>, pos: { i: number }): Node {
  if (!src) throw new TemplateError(`{{${word}}} needs a value`);
  const body = parseNodes(toks, pos, ['end', 'else']);
  let alt: Node[] = [];
  if (body.stop === 'else') {
    // {{else if …}} / {{else with …}} chain into a nested block that shares this one's {{end}}.
    const chained = /^(if|with)\b/.exec(body.rest ?? '');
    alt = chained
      ? [parseBlock(chained[1] as 'if' | 'with', (body.rest ?? '').slice(chained[1].length).trim(), toks, pos)]
      : parseNodes(toks, pos, ['end']).nodes;
  }
  return { t: word, pipe: parsePipeline(lexAction(src), src), src, body: body.nodes, alt };
}

// ---- evaluation.

interface Scope { dot: unknown; root: unknown; maps: ReadonlySet<string> }

function fieldOf(obj: unknown, key: string, fromMap: boolean, src: string): unknown {
  if (obj === undefined || obj === null) return undefined;
  if (typeof obj === 'object' && !Array.isArray(obj)) {
    if (Object.prototype.hasOwnProperty.call(obj, key) || key in (obj as object)) return (obj as Record<string, unknown>)[key];
    if (fromMap) return undefined;
    const fields = Object.keys(obj as object).filter((k) => /^[A-Z]/.test(k));
    const methods = Object.getOwnPropertyNames(obj).filter((k) => typeof (obj as Record<string, unknown>)[k] === 'function');
    const known = [...fields, ...methods.filter((m) => !fields.includes(m))];
    throw new TemplateError(`{{${src}}}: no field ${key}${known.length ? ` (fields: ${known.join(', ')})` : ''}`);
  }
  throw new TemplateError(`{{${src}}}: cannot read field ${key} of ${show(obj)}`);
}

function walk(start: unknown, path: string[], maps: ReadonlySet<string>, src: string): unknown {
  let cur = start;
  let fromMap = false;
  for (const key of path) {
    cur = fieldOf(cur, key, fromMap, src);
    fromMap = maps.has(key);
  }
  return cur;
}

function evalArg(a: Arg, s: Scope, src: string, final?: unknown[]): unknown {
  switch (a.k) {
    case 'str': case 'num': case 'bool': return a.v;
    case 'nil': return null;
    case 'pipe': return evalPipe(a.pipe, s, src);
    case 'ident': {
      const fn = FUNCS[a.name];
      if (!fn) throw new TemplateError(`{{${src}}}: no function ${a.name}`);
      return fn(...(final ?? []));
    }
    case 'field': {
      const v = walk(a.base === 'root' ? s.root : s.dot, a.path, s.maps, src);
      // A method such as {{.Label "com.example"}} takes the command's other arguments.
      if (typeof v === 'function') return (v as (...x: unknown[]) => unknown)(...(final ?? []));
      if (final && final.length) throw new TemplateError(`{{${src}}}: ${a.path.join('.') || '.'} is not a function, it takes no arguments`);
      return v;
    }
  }
}

function evalPipe(pipe: Cmd[], s: Scope, src: string): unknown {
  let acc: unknown;
  pipe.forEach((cmd, n) => {
    const args = cmd.slice(1).map((x) => evalArg(x, s, src));
    if (n > 0) args.push(acc);
    const head = cmd[0];
    if (head.k !== 'ident' && head.k !== 'field' && args.length) throw new TemplateError(`{{${src}}}: cannot call ${JSON.stringify(show(evalArg(head, s, src)))}`);
    acc = evalArg(head, s, src, args);
  });
  return acc;
}

/** Go's notion of an empty value, which `if`, `with` and `range`'s else test. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

/** fmt's %v of a value as Docker's templates see JSON-shaped data. */
export function show(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v as object).sort().map((k) => `${k}:${show((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return String(v);
}

function render(nodes: Node[], s: Scope): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.v;
    else if (n.t === 'out') out += show(evalPipe(n.pipe, s, n.src));
    else {
      const v = evalPipe(n.pipe, s, n.src);
      if (n.t === 'if') out += render(truthy(v) ? n.body : n.alt, s);
      else if (n.t === 'with') out += truthy(v) ? render(n.body, { ...s, dot: v }) : render(n.alt, s);
      else {
        const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k]) : typeof v === 'number' ? [...Array(v).keys()] : [];
        out += items.length ? items.map((it) => render(n.body, { ...s, dot: it })).join('') : render(n.alt, s);
      }
    }
  }
  return out;
}

// ---- functions: Go's builtins, then those Docker's formatter adds (json, split, join, title, pad, truncate…).

function printf(fmt: string, ...args: unknown[]): string {
  let n = 0;
  return String(fmt).replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([svdqfxXtT%])/g, (_m, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'd': s = String(Math.trunc(Number(a))); break;
      case 'f': s = Number(a).toFixed(prec === undefined ? 6 : Number(prec)); break;
      case 'q': s = JSON.stringify(String(a)); break;
      case 'x': case 'X': s = typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex'); if (verb === 'X') s = s.toUpperCase(); break;
      case 'T': s = Array.isArray(a) ? '[]interface {}' : a === null ? '<nil>' : typeof a; break;
      default: s = show(a); if (prec !== undefined) s = s.slice(0, Number(prec));
    }
    const w = width ? Number(width) : 0;
    return flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
  });
}

function compare(op: string): (a: unknown, ...b: unknown[]) => boolean {
  return (a, ...b) => {
    if (op === 'eq') return b.some((x) => x === a || (x !== null && typeof x === 'object' && JSON.stringify(x) === JSON.stringify(a)));
    const x = b[0] as number | string;
    const y = a as number | string;
    if (typeof x !== typeof y) throw new TemplateError(`${op}: cannot compare ${show(a)} with ${show(b[0])}`);
    switch (op) {
      case 'ne': return y !== x;
      case 'lt': return y < x;
      case 'le': return y <= x;
      case 'gt': return y > x;
      default: return y >= x;
    }
  };
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  // Go's builtins.
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (a) => !truthy(a),
  len: (a) => {
    if (typeof a === 'string' || Array.isArray(a)) return a.length;
    if (a && typeof a === 'object') return Object.keys(a).length;
    throw new TemplateError(`len of ${show(a)}`);
  },
  index: (a, ...keys) => keys.reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[k as string]), a),
  slice: (a, i, j) => (typeof a === 'string' || Array.isArray(a) ? a.slice(Number(i ?? 0), j === undefined ? undefined : Number(j)) : a),
  print: (...a) => a.map(show).join(''),
  println: (...a) => a.map(show).join(' ') + '\n',
  printf: (f, ...a) => printf(String(f), ...a),
  eq: compare('eq'), ne: compare('ne'), lt: compare('lt'), le: compare('le'), gt: compare('gt'), ge: compare('ge'),
  html: (a) => show(a).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  js: (a) => JSON.stringify(show(a)).slice(1, -1),
  urlquery: (...a) => encodeURIComponent(a.map(show).join('')),
  // Docker's additions (its templates package): JSON of any value, and string helpers.
  json: (a) => JSON.stringify(a === undefined ? null : a),
  split: (s, sep) => String(s).split(String(sep)),
  join: (a, sep) => (Array.isArray(a) ? a.map(show).join(String(sep)) : show(a)),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, l, r) => ' '.repeat(Number(l)) + show(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => { const t = show(s); return t.length > Number(n) ? t.slice(0, Number(n)) : t; },
};

export interface CompiledTemplate { render(data: unknown): string }

/** Parses TEMPLATE once; errors in it (and unknown fields when rendering) are BAD_FORMAT LodgerErrors. */
export function compileTemplate(template: string, o: TemplateOptions = {}): CompiledTemplate {
  // Docker's formatter takes the escapes \t and \n in the string as given on a shell's command line.
  const src = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const { nodes } = parseNodes(split(src), { i: 0 }, []);
  const maps = o.maps ?? DEFAULT_MAPS;
  return { render: (data) => render(nodes, { dot: data, root: data, maps }) };
}

/** Names Docker's objects use for user-keyed maps: asking these for a missing key gives `<no value>`. */
export const DEFAULT_MAPS: ReadonlySet<string> = new Set(['Labels', 'Options', 'Annotations', 'Ports', 'PortBindings', 'ExposedPorts', 'Volumes', 'Networks', 'Containers', 'DriverOpts', 'Status', 'Sysctls', 'Tmpfs', 'StorageOpt', 'Data', 'Plugins', 'Registries', 'backends']);

export function renderTemplate(template: string, data: unknown, o?: TemplateOptions): string {
  return compileTemplate(template, o).render(data);
}
