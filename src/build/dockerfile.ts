// Reads a Dockerfile into lodger's instruction model: stages of instructions with their line, flags, arguments and heredocs.
//
// dockerfile-ast does the lexing (parser directives, the escape character, line continuations,
// comments, flags, heredoc bodies); this file checks what the builder needs and keeps the pieces.
// Variables are expanded later, per instruction, by words.ts — their values are known only while building.
import { DockerfileParser, type Instruction as AstInstruction } from 'dockerfile-ast';
import { BuildError } from './errors';

export const KEYWORDS = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
  'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

export interface Heredoc {
  /** The delimiter word, without quotes or `-`. */
  name: string;
  /** The text between the opening line and the delimiter line, with its final newline. */
  body: string;
  /** An unquoted delimiter: the body is expanded (for RUN, by the shell; for COPY, by the builder). */
  expand: boolean;
}

export interface Instruction {
  keyword: Keyword;
  /** 1-based line of the instruction in the file. */
  line: number;
  /** The instruction as written (continuations joined), for messages and history. */
  original: string;
  /** Flags (`--from=x`) in order; value null for a bare `--flag`. */
  flags: Array<{ name: string; value: string | null }>;
  /** The arguments after the flags, line continuations joined, heredoc bodies not included. */
  args: string;
  /** The arguments as a JSON string array when written in exec form, else undefined. */
  json?: string[];
  heredocs: Heredoc[];
}

export interface ParsedDockerfile {
  escape: string;
  /** ARG instructions before the first FROM. */
  globalArgs: Instruction[];
  stages: Array<{ from: Instruction; instructions: Instruction[] }>;
}

/** A JSON array of strings, or undefined when TEXT is not one (then it is shell form, as Docker decides). */
export function parseJsonForm(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch { /* shell form after all */ }
  return undefined;
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` words of the first line, in order. */
const HEREDOC_WORD = /<<(-?)(["']?)([A-Za-z0-9_]+)\2/g;

function documentLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** The heredocs of an instruction: its bodies read from the document lines after the instruction's first line. */
function heredocsOf(ast: AstInstruction, lines: string[], firstLine: string): Heredoc[] {
  const out: Heredoc[] = [];
  const starts = [...firstLine.matchAll(HEREDOC_WORD)];
  if (starts.length === 0) return out;
  // Bodies follow one another after the line that opened them (the Dockerfile reference, "Here-Documents").
  let lineNo = ast.getRange().start.line + 1;
  for (const m of starts) {
    const [, dash, quote, name] = m;
    const body: string[] = [];
    for (;;) {
      if (lineNo >= lines.length) throw new BuildError('BUILD_SYNTAX', `line ${ast.getRange().start.line + 1}: the heredoc <<${name} is not closed (no line "${name}")`);
      const l = lines[lineNo++];
      if ((dash ? l.replace(/^\t+/, '') : l) === name) break;
      body.push(dash ? l.replace(/^\t+/, '') : l);
    }
    out.push({ name, body: body.length ? body.join('\n') + '\n' : '', expand: quote === '' });
  }
  return out;
}

function toInstruction(ast: AstInstruction, lines: string[]): Instruction {
  const keyword = ast.getKeyword().toUpperCase();
  const line = ast.getRange().start.line + 1;
  if (!(KEYWORDS as readonly string[]).includes(keyword)) {
    throw new BuildError('BUILD_UNKNOWN_INSTRUCTION', `line ${line}: unknown instruction ${ast.getInstruction()}`);
  }
  const flagged = ast as AstInstruction & { getFlags?: () => Array<{ getName(): string; getValue(): string | null }> };
  const flags = (flagged.getFlags?.() ?? []).map((f) => ({ name: f.getName(), value: f.getValue() }));
  let args = ast.getArgumentsContent() ?? '';
  // A heredoc instruction's content runs on past its first line; the bodies are kept apart.
  const raw = ast.getRawArgumentsContent() ?? '';
  let heredocs: Heredoc[] = [];
  if (raw.includes('<<') && ['RUN', 'COPY', 'ADD'].includes(keyword)) {
    const firstLine = args.split('\n')[0];
    heredocs = heredocsOf(ast, lines, firstLine);
    if (heredocs.length) args = firstLine;
  }
  args = args.trim();
  if (!flagged.getFlags) {
    // dockerfile-ast reads flags only for the instructions that have some; Docker reads them for all
    // (and then refuses unknown ones), so `ENV --x=1 A=1` is a flag error, not a variable named --x.
    let m: RegExpExecArray | null;
    while ((m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(args))) {
      flags.push({ name: m[1], value: m[2] ?? null });
      args = args.slice(m[0].length);
    }
  }
  const original = `${keyword} ${[...flags.map((f) => `--${f.name}${f.value === null ? '' : '=' + f.value}`), args].filter(Boolean).join(' ')}`;
  return { keyword: keyword as Keyword, line, original, flags, args, json: parseJsonForm(args), heredocs };
}

/** Parses the text of a Dockerfile; syntax errors and unknown instructions name their line. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const doc = DockerfileParser.parse(text);
  const escape = doc.getEscapeCharacter();
  const lines = documentLines(text);
  const out: ParsedDockerfile = { escape, globalArgs: [], stages: [] };
  for (const ast of doc.getInstructions()) {
    const ins = toInstruction(ast, lines);
    if (ins.keyword === 'FROM') {
      if (!ins.args) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: FROM requires an image name`);
      out.stages.push({ from: ins, instructions: [] });
    } else if (out.stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new BuildError('BUILD_NO_FROM', `line ${ins.line}: ${ins.keyword} before the first FROM — a Dockerfile must start with FROM (only ARG may come before it)`);
      out.globalArgs.push(ins);
    } else {
      out.stages[out.stages.length - 1].instructions.push(ins);
    }
  }
  if (out.stages.length === 0) throw new BuildError('BUILD_NO_FROM', 'the Dockerfile has no FROM instruction');
  return out;
}

/** Flag NAME's value (the last one given), or undefined. */
export function flag(ins: Instruction, name: string): string | undefined {
  let v: string | undefined;
  for (const f of ins.flags) if (f.name === name) v = f.value ?? '';
  return v;
}

/** Every value of a repeatable flag (RUN --mount). */
export function flags(ins: Instruction, name: string): string[] {
  return ins.flags.filter((f) => f.name === name).map((f) => f.value ?? '');
}

/** Refuses flags an instruction does not take (Docker: "Unknown flag: x"). */
export function checkFlags(ins: Instruction, allowed: string[]): void {
  for (const f of ins.flags) {
    if (!allowed.includes(f.name)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ${ins.keyword} does not take the flag --${f.name}${allowed.length ? ` (it takes ${allowed.map((a) => '--' + a).join(', ')})` : ''}`);
  }
}
