// Reading Dockerfiles into the instruction model, and the stage graph: heredocs, the escape directive, flags, JSON form, --target and pruning.
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../src/build/dockerfile';
import { neededStages, stageGraph, targetIndex } from '../../../src/build/stages';

describe('parseDockerfile', () => {
  it('keeps each instruction with its line, flags, arguments and exec form', () => {
    const df = parseDockerfile('# comment\nFROM busybox AS base\nRUN --mount=type=cache,target=/c \\\n    echo hi\nCMD ["a", "b"]\nCOPY --chown=1:2 --from=base /x /y\n');
    const [s] = df.stages;
    expect(s.from.line).toBe(2);
    expect(s.instructions.map((i) => [i.keyword, i.line])).toEqual([['RUN', 3], ['CMD', 5], ['COPY', 6]]);
    expect(s.instructions[0].flags).toEqual([{ name: 'mount', value: 'type=cache,target=/c' }]);
    expect(s.instructions[0].args).toBe('echo hi');
    expect(s.instructions[0].json).toBeUndefined();
    expect(s.instructions[1].json).toEqual(['a', 'b']);
    expect(s.instructions[2].flags.map((f) => f.name)).toEqual(['chown', 'from']);
  });

  it('reads heredoc bodies, quoted (not expanded) or not, and <<- stripping tabs', () => {
    const df = parseDockerfile('FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<"END" /f\nliteral $A\nEND\nRUN <<-EOT\n\tindented\n\tEOT\n');
    const [run, copy, run2] = df.stages[0].instructions;
    expect(run.heredocs).toEqual([{ name: 'EOF', body: 'echo $A\n', expand: true }]);
    expect(run.args).toBe('<<EOF');
    expect(copy.heredocs).toEqual([{ name: 'END', body: 'literal $A\n', expand: false }]);
    expect(copy.args).toBe('<<"END" /f');
    expect(run2.heredocs[0].body).toBe('indented\n');
  });

  it('honours the escape directive', () => {
    const df = parseDockerfile('# escape=`\nFROM x\nRUN dir c:\\ `\n    && echo done\n');
    expect(df.escape).toBe('`');
    expect(df.stages[0].instructions[0].args).toMatch(/^dir c:\\\s+&& echo done$/);
  });

  it('names the line of an unknown instruction and refuses what comes before FROM', () => {
    expect(() => parseDockerfile('FROM x\nRUN a\n\nFROBNICATE b\n')).toThrow(/line 4: unknown instruction FROBNICATE/);
    expect(() => parseDockerfile('RUN a\nFROM x\n')).toThrow(/line 1: RUN before the first FROM/);
    expect(() => parseDockerfile('# nothing\n')).toThrow(/no FROM/);
    expect(() => parseDockerfile('FROM x\nRUN <<EOF\nnever closed\n')).toThrow(/heredoc <<EOF is not closed/);
  });

  it('keeps ARGs before the first FROM apart', () => {
    const df = parseDockerfile('ARG V=1\nARG BASE\nFROM x:${V}\n');
    expect(df.globalArgs.map((a) => a.args)).toEqual(['V=1', 'BASE']);
  });
});

describe('stage graph', () => {
  const text = [
    'ARG BASE=busybox',
    'FROM ${BASE} AS deps',
    'RUN make deps',
    'FROM deps AS build',
    'COPY --from=deps /a /a',
    'FROM busybox AS test',
    'RUN --mount=type=bind,from=build,target=/b true',
    'FROM busybox AS unused',
    'RUN exit 1',
    'FROM busybox',
    'COPY --from=build /out /out',
    'COPY --from=alpine:3 /etc/os-release /x',
  ].join('\n');
  const df = parseDockerfile(text);
  const nodes = stageGraph(df, new Map([['BASE', 'busybox']]));

  it('expands FROM with the global ARGs and links stages by name, index and base', () => {
    expect(nodes.map((n) => [n.name, n.base, n.deps])).toEqual([
      ['deps', 'busybox', []],
      ['build', 'deps', [0]],
      ['test', 'busybox', [1]],
      ['unused', 'busybox', []],
      [undefined, 'busybox', [1]],
    ]);
    expect(nodes[1].baseStage).toBe(0);
  });

  it('builds only what the target needs', () => {
    expect(neededStages(nodes, targetIndex(nodes))).toEqual([0, 1, 4]);
    expect(neededStages(nodes, targetIndex(nodes, 'test'))).toEqual([0, 1, 2]);
    expect(neededStages(nodes, targetIndex(nodes, 'DEPS'))).toEqual([0]);
    expect(() => targetIndex(nodes, 'nope')).toThrow(/--target nope: no such stage .*deps, build, test, unused/);
  });

  it('refuses duplicate stage names and FROM without an image', () => {
    expect(() => stageGraph(parseDockerfile('FROM a AS x\nFROM b AS x\n'), new Map())).toThrow(/stage name x is used twice/);
    expect(() => stageGraph(parseDockerfile('ARG B\nFROM ${B}\n'), new Map())).toThrow(/expands to an empty image name/);
  });
});
