// The build context: .dockerignore with Docker's rules, sources resolved inside the context only, wildcards, and the content digest the cache keys on.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextRelative, makeIgnore, resolveInside, segmentRegex, selectSource, selectionDigest, type Context } from '../../../src/build/context';

let root: string;
let ctx: Context;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-ctx-'));
  const files: Record<string, string> = { 'a.txt': 'a', 'b.log': 'b', 'dir/x.txt': 'x', 'dir/sub/y.log': 'y', 'secret/key': 'k', 'secret/keep': 'keep' };
  for (const [f, t] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), t);
  }
  fs.symlinkSync('/etc', path.join(root, 'etclink'));
  fs.symlinkSync('../../..', path.join(root, 'dir', 'up'));
  ctx = { root, ignore: makeIgnore('# comment\n*.log\nsecret\n!secret/keep\n'), cleanup: () => undefined };
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const rels = (src: string) => selectSource(ctx, src, 'COPY').map((f) => f.rel);

describe('.dockerignore (Docker\'s matching)', () => {
  it('matches from the root only, * within one level, ** across levels, with ! exceptions', () => {
    const ig = makeIgnore('*.log\n**/*.tmp\nbuild\n!build/keep\n');
    expect(ig.ignores('x.log')).toBe(true);
    expect(ig.ignores('dir/x.log')).toBe(false);
    expect(ig.ignores('a/b/c.tmp')).toBe(true);
    expect(ig.ignores('build/out')).toBe(true);
    expect(ig.ignores('build/keep')).toBe(false);
  });

  it('leaves excluded files out of a directory copy (*.log only at the root), keeping exceptions under an excluded directory', () => {
    expect(rels('.')).toEqual(['', 'a.txt', 'dir', 'dir/sub', 'dir/sub/y.log', 'dir/up', 'dir/x.txt', 'etclink', 'secret', 'secret/keep']);
  });

  it('refuses a source that is excluded, and says so', () => {
    expect(() => rels('b.log')).toThrow(/COPY b\.log: no such file or directory in the build context \(it is excluded by \.dockerignore\)/);
  });
});

describe('sources stay inside the context', () => {
  it('refuses ../ out of the context', () => {
    expect(() => contextRelative('../x', 'COPY')).toThrow(/outside the build context/);
    expect(() => contextRelative('a/../../x', 'COPY')).toThrow(/outside the build context/);
    expect(contextRelative('/a/./b/', 'COPY')).toBe('a/b/');
  });

  it('resolves symlinks as if the context were / (an absolute link or a climb never leaves it)', () => {
    expect(resolveInside(root, 'etclink/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(resolveInside(root, 'dir/up/a.txt')).toBe(path.join(root, 'a.txt'));
    expect(() => rels('etclink/passwd')).toThrow(/no such file or directory in the build context/);
  });
});

describe('wildcards and digests', () => {
  it('matches path segments like Go filepath.Match', () => {
    expect(segmentRegex('*.txt').test('a.txt')).toBe(true);
    expect(segmentRegex('*.txt').test('a/b.txt')).toBe(false);
    expect(segmentRegex('[ab]?.c').test('bx.c')).toBe(true);
    expect(segmentRegex('[^ab].c').test('a.c')).toBe(false);
    expect(rels('*.txt')).toEqual(['a.txt']);
    expect(rels('dir/*.txt')).toEqual(['x.txt']);
  });

  it('changes with content and mode, not with times', () => {
    const before = selectionDigest(selectSource(ctx, 'dir', 'COPY'));
    fs.utimesSync(path.join(root, 'dir/x.txt'), new Date(2000, 1, 1), new Date(2000, 1, 1));
    expect(selectionDigest(selectSource(ctx, 'dir', 'COPY'))).toBe(before);
    fs.chmodSync(path.join(root, 'dir/x.txt'), 0o600);
    const moded = selectionDigest(selectSource(ctx, 'dir', 'COPY'));
    expect(moded).not.toBe(before);
    fs.writeFileSync(path.join(root, 'dir/x.txt'), 'X');
    expect(selectionDigest(selectSource(ctx, 'dir', 'COPY'))).not.toBe(moded);
  });
});
