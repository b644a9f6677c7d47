// The build context: a directory (or a tar unpacked into one), its .dockerignore, and the files a COPY/ADD selects from it.
//
// Nothing is ever followed out of the context: a source path is resolved inside it as if the context
// were the root (a symlink to /etc/passwd resolves to <context>/etc/passwd), a source that names a
// parent (`COPY ../x`) is refused, and symlinks met while walking a directory are copied as links.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import ignore, { type Ignore } from '@balena/dockerignore';
import { BuildError } from './errors';

export interface Context {
  root: string;
  ignore: Ignore;
  /** Removes what openContext made (a tar's unpacked tree); nothing for a directory given by the user. */
  cleanup(): void;
}

/** The ignore file for DOCKERFILE: `<Dockerfile>.dockerignore` beside it wins over the context's `.dockerignore`. */
export function ignoreFileFor(root: string, dockerfile: string | undefined): string | undefined {
  const candidates = [dockerfile ? `${dockerfile}.dockerignore` : undefined, path.join(root, '.dockerignore')];
  return candidates.find((f): f is string => !!f && fs.existsSync(f));
}

/** Docker's .dockerignore: comment lines start with #, patterns are cleaned and matched from the context root. */
export function makeIgnore(text: string): Ignore {
  const patterns = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return ignore().add(patterns);
}

export function loadIgnore(root: string, dockerfile?: string): Ignore {
  const file = ignoreFileFor(root, dockerfile);
  return makeIgnore(file ? fs.readFileSync(file, 'utf8') : '');
}

/** Unpacks a context tar (the API's body, `lodger build -`) into DIR, refusing entries that leave it. */
export async function unpackContextTar(input: Readable, dir: string): Promise<void> {
  const tar = await import('tar-stream');
  const ex = tar.extract();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const fail = (e: unknown) => { stream.resume(); reject(e); };
      try {
        const rel = path.posix.normalize(h.name.replace(/^\/+/, ''));
        if (rel === '..' || rel.startsWith('../')) throw new BuildError('BUILD_CONTEXT', `context tar: the entry ${h.name} points outside the context`);
        if (rel === '.' || rel === './') { stream.resume(); stream.on('end', next); return; }
        const target = path.join(dir, rel);
        // No component on the way may be a symlink: an earlier entry must not redirect a later one out.
        let cur = dir;
        for (const part of path.dirname(rel).split('/').filter((x) => x && x !== '.')) {
          cur = path.join(cur, part);
          const st = fs.lstatSync(cur, { throwIfNoEntry: false });
          if (!st) fs.mkdirSync(cur, { mode: 0o755 });
          else if (!st.isDirectory()) throw new BuildError('BUILD_CONTEXT', `context tar: ${h.name} lies under ${path.relative(dir, cur)}, which is not a directory`);
        }
        const mode = (h.mode ?? 0o644) & 0o7777;
        const mtime = h.mtime ?? new Date(0);
        if (h.type === 'directory') {
          if (!fs.existsSync(target)) fs.mkdirSync(target, { mode: 0o755 });
          fs.chmodSync(target, mode | 0o700);
          stream.resume();
          stream.on('end', next);
        } else if (h.type === 'symlink') {
          fs.rmSync(target, { force: true });
          fs.symlinkSync(h.linkname ?? '', target);
          stream.resume();
          stream.on('end', next);
        } else if (h.type === 'link') {
          const src = path.posix.normalize((h.linkname ?? '').replace(/^\/+/, ''));
          if (src.startsWith('..')) throw new BuildError('BUILD_CONTEXT', `context tar: the hard link ${h.name} points outside the context`);
          fs.rmSync(target, { force: true });
          fs.linkSync(path.join(dir, src), target);
          stream.resume();
          stream.on('end', next);
        } else if (h.type === 'file' || h.type === 'contiguous-file') {
          fs.rmSync(target, { force: true });
          const out = fs.createWriteStream(target, { flags: 'wx', mode });
          stream.pipe(out);
          out.on('error', reject);
          out.on('finish', () => {
            try { fs.chmodSync(target, mode); fs.utimesSync(target, mtime, mtime); next(); } catch (e) { reject(e); }
          });
        } else {
          stream.resume();
          stream.on('end', next);
        }
      } catch (e) {
        fail(e);
      }
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    input.on('error', reject);
  });
  input.pipe(ex);
  await done;
}

/** A file of the context selected by a COPY/ADD source, with where it goes relative to the destination. */
export interface SelectedFile {
  /** Host path in the context. */
  abs: string;
  /** Path relative to the destination directory ('' for the source itself copied to a file destination). */
  rel: string;
  st: fs.Stats;
  /** Set on the entry a source (or one match of its wildcards) names itself. */
  top?: boolean;
  /** The owner and mode an ADDed archive records for it (kept in the layer unless --chown or --chmod). */
  archived?: { uid: number; gid: number; mode: number };
}

export interface Selection {
  files: SelectedFile[];
  /** Whether the selection's single source is a directory (then its contents are copied). */
  sourceIsDir: boolean;
}

const MAX_LINKS = 40;

/** Resolves REL inside ROOT as if ROOT were `/`: symlinks are followed but never leave it. */
export function resolveInside(root: string, rel: string): string {
  const parts = rel.split('/').filter((x) => x && x !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { done.pop(); continue; }
    const cand = path.join(root, ...done, part);
    const st = fs.lstatSync(cand, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new BuildError('BUILD_CONTEXT', `${rel}: too many levels of symbolic links in the context`);
      const target = fs.readlinkSync(cand);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}

/** A COPY source written relative to the context; `..` out of it is refused (Docker: "forbidden path outside the build context"). */
export function contextRelative(src: string, keyword: string): string {
  const norm = path.posix.normalize('/' + src).slice(1);
  const raw = path.posix.normalize(src.replace(/^\/+/, ''));
  if (raw === '..' || raw.startsWith('../')) {
    throw new BuildError('BUILD_CONTEXT', `${keyword} ${src}: the source is outside the build context — only files under the context directory can be copied`);
  }
  return norm;
}

/** Go's filepath.Match for one path segment: `*`, `?`, `[…]` (with `^`/`!` negation) and `\` escapes. */
export function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < seg.length) re += '\\' + seg[++i];
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) throw new BuildError('BUILD_SYNTAX', `bad pattern ${JSON.stringify(seg)}: unclosed [`);
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** The context paths (relative) that SRC names: itself, or the matches of its wildcards. */
export function expandSource(root: string, src: string): string[] {
  if (!hasGlob(src)) return [src];
  let cur: string[] = [''];
  for (const seg of src.split('/').filter(Boolean)) {
    const next: string[] = [];
    for (const base of cur) {
      if (!hasGlob(seg)) { next.push(base ? `${base}/${seg}` : seg); continue; }
      const dir = resolveInside(root, base);
      let names: string[];
      try { names = fs.readdirSync(dir).sort(); } catch { continue; }
      const re = segmentRegex(seg);
      for (const n of names) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    cur = next;
  }
  return cur.filter((c) => fs.existsSync(resolveInside(root, c)) || fs.lstatSync(path.join(root, c), { throwIfNoEntry: false }));
}

/** Walks DIR (host) depth-first in name order, yielding entries not excluded by IG; symlinks are not followed. */
function walk(ctx: Context, dir: string, relCtx: string, relDest: string, out: SelectedFile[]): void {
  for (const name of fs.readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    const rc = relCtx ? `${relCtx}/${name}` : name;
    const rd = relDest ? `${relDest}/${name}` : name;
    const st = fs.lstatSync(abs);
    const excluded = ctx.ignore.ignores(rc);
    if (st.isDirectory()) {
      const before = out.length;
      out.push({ abs, rel: rd, st });
      walk(ctx, abs, rc, rd, out);
      // An excluded directory is kept only for files an exception (!pattern) brings back under it.
      if (excluded && out.length === before + 1) out.pop();
    } else if (!excluded) {
      out.push({ abs, rel: rd, st });
    }
  }
}

/** The files of one COPY source (pattern), refusing a source that is missing or wholly excluded. */
export function selectSource(ctx: Context, src: string, keyword: string): SelectedFile[] {
  const rel = contextRelative(src, keyword);
  const matches = expandSource(ctx.root, rel);
  const out: SelectedFile[] = [];
  for (const m of matches) {
    // The root itself (`COPY . /app`) is never excluded as a whole.
    if (m && ctx.ignore.ignores(m) && !hasIncludedDescendant(ctx, m)) continue;
    const abs = resolveInside(ctx.root, m);
    const st = fs.statSync(abs, { throwIfNoEntry: false }) ?? fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      out.push({ abs, rel: '', st, top: true });
      walk(ctx, abs, path.relative(ctx.root, abs), '', out);
    } else {
      // A file matched by a wildcard keeps its own name under a directory destination.
      out.push({ abs, rel: hasGlob(rel) || matches.length > 1 ? path.basename(m) : '', st, top: true });
    }
  }
  if (out.length === 0) {
    throw new BuildError('BUILD_COPY_SOURCE', `${keyword} ${src}: no such file or directory in the build context${ctx.ignore.ignores(rel) ? ' (it is excluded by .dockerignore)' : ''}`);
  }
  return out;
}

function hasIncludedDescendant(ctx: Context, rel: string): boolean {
  const abs = resolveInside(ctx.root, rel);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return false;
  const out: SelectedFile[] = [];
  walk(ctx, abs, rel, '', out);
  return out.some((f) => !f.st.isDirectory());
}

/**
 * A digest of what a COPY would write: relative paths, types, modes, sizes, contents and link
 * targets — not owners (the instruction decides those) nor times, so a touched file still hits the cache.
 */
export function selectionDigest(files: SelectedFile[]): string {
  const h = crypto.createHash('sha256');
  for (const f of files) {
    const type = f.st.isDirectory() ? 'd' : f.st.isSymbolicLink() ? 'l' : f.st.isFile() ? 'f' : 'o';
    h.update(`${type} ${f.rel} ${(f.st.mode & 0o7777).toString(8)} ${f.st.size}\n`);
    if (type === 'f') h.update(fileDigest(f.abs));
    else if (type === 'l') h.update(fs.readlinkSync(f.abs));
    h.update('\n');
  }
  return 'sha256:' + h.digest('hex');
}

function fileDigest(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Opens a context directory the user named, or unpacks a tar into a private one under TMP. */
export async function openContext(input: { dir: string } | { tar: Readable }, tmp: string, dockerfile?: string): Promise<Context> {
  if ('dir' in input) {
    const root = path.resolve(input.dir);
    const st = fs.statSync(root, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new BuildError('BUILD_CONTEXT', `build context ${input.dir}: not a directory — give the directory whose files COPY and ADD may read (or - for a tar on stdin)`);
    return { root, ignore: loadIgnore(root, dockerfile), cleanup: () => undefined };
  }
  const root = fs.mkdtempSync(path.join(tmp, 'build-context-'));
  try {
    await unpackContextTar(input.tar, root);
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return { root, ignore: loadIgnore(root, dockerfile ? path.join(root, dockerfile) : undefined), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
