// The stage graph of a Dockerfile: names, what each stage reads from the others, the stages --target needs.
//
// As BuildKit does (and unlike the classic builder), only the stages the target depends on are built,
// and stages with no dependency between them may build at the same time.
import { flag, flags, type Instruction, type ParsedDockerfile } from './dockerfile';
import { BuildError } from './errors';
import { expandWord, type Env } from './words';

export interface StageNode {
  index: number;
  /** `FROM … AS name`, lower-cased as Docker compares it; undefined without AS. */
  name?: string;
  /** The expanded base: an image reference, `scratch`, or a stage (then baseStage is set). */
  base: string;
  baseStage?: number;
  platform?: string;
  from: Instruction;
  instructions: Instruction[];
  /** Stages this one reads: its base, COPY --from and RUN --mount from=. */
  deps: number[];
}

/** Splits `image [AS name]`, refusing other shapes (the reference's FROM syntax). */
function parseFrom(ins: Instruction, env: Env, escape: string): { base: string; name?: string } {
  const words = ins.args.split(/\s+/).filter(Boolean);
  if (words.length !== 1 && !(words.length === 3 && words[1].toUpperCase() === 'AS')) {
    throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: FROM takes an image and optionally "AS name", got ${JSON.stringify(ins.args)}`);
  }
  const base = expandWord(words[0], env, { escape });
  if (!base) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: FROM ${words[0]} expands to an empty image name — set the build argument it uses (--build-arg)`);
  const name = words.length === 3 ? words[2].toLowerCase() : undefined;
  if (name !== undefined && !/^[a-z][a-z0-9._-]*$/.test(name)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: invalid stage name ${JSON.stringify(words[2])} (letters, digits, ".", "_" and "-", starting with a letter)`);
  return { base: base.toLowerCase() === 'scratch' ? 'scratch' : base, name };
}

/** Which stage REF (a name or an index) is, among the stages before BEFORE; undefined when it names an image. */
export function stageRef(nodes: StageNode[], ref: string, before: number): number | undefined {
  const lower = ref.toLowerCase();
  const byName = nodes.slice(0, before).find((n) => n.name === lower);
  if (byName) return byName.index;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= before) throw new BuildError('BUILD_STAGE', `stage ${ref} is not an earlier stage (stages are numbered from 0, and only earlier ones can be used)`);
    return i;
  }
  return undefined;
}

/**
 * The stages of DF with their dependencies; GLOBALS are the values of the ARGs declared before the
 * first FROM (the only variables FROM may use).
 */
export function stageGraph(df: ParsedDockerfile, globals: Env): StageNode[] {
  const nodes: StageNode[] = [];
  df.stages.forEach((s, index) => {
    const { base, name } = parseFrom(s.from, globals, df.escape);
    if (name && nodes.some((n) => n.name === name)) throw new BuildError('BUILD_SYNTAX', `line ${s.from.line}: the stage name ${name} is used twice`);
    const platformFlag = flag(s.from, 'platform');
    const node: StageNode = { index, name, base, from: s.from, instructions: s.instructions, deps: [], platform: platformFlag ? expandWord(platformFlag, globals, { escape: df.escape }) : undefined };
    node.baseStage = stageRef(nodes, base, index);
    if (/^\d+$/.test(base)) node.baseStage = undefined;  // FROM 0 is not a stage reference in Docker
    if (node.baseStage !== undefined) node.deps.push(node.baseStage);
    for (const ins of s.instructions) {
      const from = (ins.keyword === 'COPY' || ins.keyword === 'ADD') ? flag(ins, 'from') : undefined;
      const refs = from !== undefined ? [from] : [];
      if (ins.keyword === 'RUN') {
        for (const m of flags(ins, 'mount')) {
          const f = /(?:^|,)from=([^,]+)/.exec(m);
          if (f) refs.push(f[1]);
        }
      }
      for (const r of refs) {
        const dep = stageRef(nodes, r, index);
        if (dep !== undefined && !node.deps.includes(dep)) node.deps.push(dep);
      }
    }
    nodes.push(node);
  });
  return nodes;
}

/** The target stage's index: --target's stage, else the last. */
export function targetIndex(nodes: StageNode[], target?: string): number {
  if (!target) return nodes.length - 1;
  const i = nodes.find((n) => n.name === target.toLowerCase())?.index ?? (/^\d+$/.test(target) ? Number(target) : undefined);
  if (i === undefined || i >= nodes.length) {
    const names = nodes.map((n) => n.name).filter(Boolean);
    throw new BuildError('BUILD_TARGET', `--target ${target}: no such stage in the Dockerfile${names.length ? ` (its stages: ${names.join(', ')})` : ' (it names no stages: use FROM … AS name)'}`);
  }
  return i;
}

/** The stages TARGET needs, itself included, in file order. */
export function neededStages(nodes: StageNode[], target: number): number[] {
  const need = new Set<number>();
  const visit = (i: number) => {
    if (need.has(i)) return;
    need.add(i);
    for (const d of nodes[i].deps) visit(d);
  };
  visit(target);
  return [...need].sort((a, b) => a - b);
}
