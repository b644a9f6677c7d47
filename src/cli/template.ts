// A small Go text/template subset for --format: {{.A.B}}, {{json .X}}, {{index .M "k"}}, {{range .L}}…{{end}}, {{if}}…{{else}}…{{end}}, {{upper}}/{{lower}}/{{len}}/{{join}}.
import { UsageError } from 'clipanion';

type Node =
  | { t: 'text'; v: string }
  | { t: 'expr'; v: string }
  | { t: 'range'; v: string; body: Node[]; alt: Node[] }
  | { t: 'if'; v: string; body: Node[]; alt: Node[] };

function tokenize(src: string): Array<{ text?: string; action?: string }> {
  const out: Array<{ text?: string; action?: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) { out.push({ text: src.slice(i) }); break; }
    if (open > i) out.push({ text: src.slice(i, open) });
    const close = src.indexOf('}}', open);
    if (close < 0) throw new UsageError(`--format: unclosed action in ${JSON.stringify(src)}`);
    out.push({ action: src.slice(open + 2, close).trim().replace(/^-\s*|\s*-$/g, '') });
    i = close + 2;
  }
  return out.map((t) => (t.text !== undefined ? { text: t.text.replace(/\\n/g, '\n').replace(/\\t/g, '\t') } : t));
}

function parse(tokens: Array<{ text?: string; action?: string }>, pos: { i: number }, stopAt: string[]): { nodes: Node[]; stop?: string } {
  const nodes: Node[] = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++];
    if (tok.text !== undefined) { nodes.push({ t: 'text', v: tok.text }); continue; }
    const a = tok.action!;
    const word = a.split(/\s+/)[0];
    if (stopAt.includes(word)) return { nodes, stop: word };
    if (word === 'range' || word === 'if') {
      const body = parse(tokens, pos, ['end', 'else']);
      let alt: Node[] = [];
      if (body.stop === 'else') alt = parse(tokens, pos, ['end']).nodes;
      nodes.push({ t: word, v: a.slice(word.length).trim(), body: body.nodes, alt });
    } else {
      nodes.push({ t: 'expr', v: a });
    }
  }
  return { nodes };
}

function splitArgs(s: string): string[] {
  return s.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function lookup(path: string, dot: unknown): unknown {
  if (path === '.') return dot;
  let cur: unknown = dot;
  for (const k of path.split('.').filter(Boolean)) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function value(arg: string, dot: unknown): unknown {
  if (arg.startsWith('"')) return JSON.parse(arg);
  if (/^-?\d+$/.test(arg)) return Number(arg);
  if (arg.startsWith('.')) return lookup(arg, dot);
  throw new UsageError(`--format: cannot evaluate ${arg}`);
}

function evalExpr(expr: string, dot: unknown): unknown {
  // Pipelines: {{.X | json}}
  const stages = expr.split('|').map((s) => s.trim());
  let acc: unknown = undefined;
  stages.forEach((stage, n) => {
    const args = splitArgs(stage);
    const fn = args[0];
    const rest = args.slice(1).map((x) => value(x, dot));
    if (n > 0) rest.push(acc);
    switch (fn) {
      case 'json': acc = JSON.stringify(rest[0] ?? null); break;
      case 'index': {
        let v = rest[0] as Record<string | number, unknown> | undefined;
        for (const k of rest.slice(1)) v = v === undefined || v === null ? undefined : (v[k as string] as Record<string, unknown>);
        acc = v;
        break;
      }
      case 'upper': acc = String(rest[0] ?? '').toUpperCase(); break;
      case 'lower': acc = String(rest[0] ?? '').toLowerCase(); break;
      case 'len': acc = Array.isArray(rest[0]) ? rest[0].length : Object.keys((rest[0] as object) ?? {}).length; break;
      case 'join': acc = ((rest[0] as unknown[]) ?? []).join(String(rest[1] ?? '')); break;
      case 'printf': acc = String(rest[0]).replace(/%[sdv]/g, () => String(rest.splice(1, 1)[0] ?? '')); break;
      default: acc = value(fn, dot);
    }
  });
  return acc;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.entries(v as object).map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
  return String(v);
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

function render(nodes: Node[], dot: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.v;
    else if (n.t === 'expr') out += show(evalExpr(n.v, dot));
    else if (n.t === 'if') out += render(truthy(evalExpr(n.v, dot)) ? n.body : n.alt, dot);
    else {
      const list = evalExpr(n.v, dot);
      const items = Array.isArray(list) ? list : list && typeof list === 'object' ? Object.values(list) : [];
      out += items.length ? items.map((it) => render(n.body, it)).join('') : render(n.alt, dot);
    }
  }
  return out;
}

export function renderTemplate(template: string, data: unknown): string {
  return render(parse(tokenize(template), { i: 0 }, []).nodes, data);
}
