// Builds the stages a target needs, each step cached or executed, and records the final image: `buildImage`, the one entry of a build.
//
// Shape (after buildah's executor and BuildKit's graph): the Dockerfile becomes a stage graph; each
// needed stage is a promise that waits for the stages it reads, so independent stages build at once.
// A stage walks its instructions keeping a running cache key: metadata instructions fold into it,
// layer instructions (RUN, COPY, ADD) look it up and either reuse the recorded layer or make one.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostArchitecture, type ImageConfig } from '../oci/config';
import { readImageFile } from '../image/layerLookup';
import { resolveUser } from '../containers/imageUser';
import { callerMapping } from '../helper/usernsWorker';
import { imageConfig, imageManifest } from '../storage/images';
import { getLayer, imageLayerDirs, newLayerStage } from '../storage/layers';
import { ensureStore, type StorePaths } from '../storage/paths';
import { cacheKey, lookupCache, recordCache, type BuiltLayer } from './cache';
import { openContext, selectSource, type Context, type SelectedFile } from './context';
import { writeCopyLayer, type CopySource } from './copyLayer';
import { flag, flags, checkFlags, parseDockerfile, type Instruction } from './dockerfile';
import { BuildError, atLine } from './errors';
import { applyMetadata, argDeclarations, commandOf, DEFAULT_SHELL, envMap, type BuildRuntimeConfig } from './metadata';
import { neededStages, stageGraph, targetIndex, type StageNode } from './stages';
import { storeTarLayer, commitBuiltImage } from './store';
import type { Build, StageState } from './state';
import type { BuildEvent, BuildInput, BuildResult } from './types';
import { expandWord, type Env } from './words';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function platformArgs(): Map<string, string> {
  const arch = hostArchitecture();
  const platform = `linux/${arch}`;
  return new Map([
    ['TARGETPLATFORM', platform], ['TARGETOS', 'linux'], ['TARGETARCH', arch], ['TARGETVARIANT', ''],
    ['BUILDPLATFORM', platform], ['BUILDOS', 'linux'], ['BUILDARCH', arch], ['BUILDVARIANT', ''],
  ]);
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function nowIso(b: Build): string {
  return b.input.timestamp !== undefined ? isoTime(b.input.timestamp) : new Date().toISOString();
}

/** The Dockerfile's text and its name for messages: -f's file, else Dockerfile, else Containerfile in the context. */
function readDockerfile(input: BuildInput, ctx: Context): { text: string; file: string; hostPath?: string } {
  if (input.dockerfileText !== undefined) return { text: input.dockerfileText, file: input.dockerfile ?? 'Dockerfile' };
  const candidates = input.dockerfile
    ? [path.isAbsolute(input.dockerfile) && 'dir' in input.context ? input.dockerfile : path.join(ctx.root, input.dockerfile)]
    : [path.join(ctx.root, 'Dockerfile'), path.join(ctx.root, 'Containerfile')];
  for (const c of candidates) {
    try {
      return { text: fs.readFileSync(c, 'utf8'), file: path.basename(c), hostPath: c };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new BuildError('BUILD_NO_DOCKERFILE', `read ${c}: ${(e as Error).message}`);
    }
  }
  throw new BuildError('BUILD_NO_DOCKERFILE', input.dockerfile
    ? `the Dockerfile ${candidates[0]} does not exist — check -f`
    : `no Dockerfile or Containerfile in the build context ${'dir' in input.context ? input.context.dir : '(tar)'} — add one, or name it with -f`);
}

/** Variables for expanding a stage's instructions: its ARGs, overridden by its ENV (the reference: ENV wins). */
function stageVars(st: StageState): Env {
  const m = new Map(st.args);
  for (const [k, v] of envMap(st.config.config.Env)) m.set(k, v);
  return m;
}

function lowerDirs(b: Build, st: StageState): string[] {
  return st.layers.length ? imageLayerDirs(b.p, st.image, st.layers.map((l) => l.diffId)) : [];
}

/** --chown's USER[:GROUP] as container ids: names through the image's /etc/passwd and /etc/group; no group means gid = uid (Docker). */
function chownIds(b: Build, st: StageState, spec: string): { uid: number; gid: number } {
  const [u, g] = spec.split(':', 2);
  const numeric = (s: string) => /^\d+$/.test(s);
  if (numeric(u) && (g === undefined || numeric(g))) return { uid: Number(u), gid: Number(g ?? u) };
  const dirs = lowerDirs(b, st);
  try {
    const r = resolveUser(g === undefined ? u : `${u}:${g}`, readImageFile(dirs, '/etc/passwd'), readImageFile(dirs, '/etc/group'));
    return { uid: r.uid, gid: g === undefined && numeric(u) ? Number(u) : r.gid };
  } catch (e) {
    throw new BuildError('BUILD_USER', `--chown=${spec}: ${(e as Error).message}`);
  }
}

async function baseState(b: Build, node: StageNode): Promise<StageState> {
  const empty = (): StageState => ({
    node, layers: [], key: cacheKey(['scratch']), args: new Map(), cmdSet: false, image: 'scratch', imageId: '', created: nowIso(b),
    config: { architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  });
  if (node.baseStage !== undefined) {
    const from = await b.results.get(node.baseStage)!;
    return { ...from, node, args: new Map(), cmdSet: false, config: structuredClone(from.config), layers: [...from.layers] };
  }
  const { checkBuildPlatform } = await import('./platform');
  if (node.platform) checkBuildPlatform(node.platform, `FROM --platform`);
  if (node.base === 'scratch') return empty();
  b.emit({ type: 'pull', ref: node.base });
  const { ensureImage } = await import('../image/pull');
  const img = await ensureImage(b.p, node.base, b.input.pull, { platform: node.platform ?? b.input.platform, report: (e) => { if (e.kind !== 'layer') b.emit({ type: 'warning', message: e.message }); } });
  const cfg = imageConfig(b.p, img) as ImageConfig & { config?: BuildRuntimeConfig };
  const manifest = imageManifest(b.p, img);
  const layers: BuiltLayer[] = img.layers.map((diffId, i) => ({ diffId, blob: manifest.layers[i], size: getLayer(b.p, diffId)?.size ?? 0 }));
  const config = structuredClone(cfg) as ImageConfig & { config: BuildRuntimeConfig };
  config.config ??= {};
  config.history ??= [];
  return { node, config, layers, key: cacheKey(['image', img.id]), args: new Map(), cmdSet: false, image: node.base, imageId: img.id, created: cfg.created ?? nowIso(b) };
}

/** ARG NAME[=default]: the value is --build-arg's, else the default (expanded), else a global ARG's of that name. */
function declareArg(b: Build, st: StageState | undefined, ins: Instruction, scope: Map<string, string>, vars: Env): void {
  for (const { name, def } of argDeclarations(ins, b.df.escape)) {
    let value: string | undefined;
    if (Object.prototype.hasOwnProperty.call(b.input.buildArgs, name)) {
      b.usedArgs.add(name);
      value = b.input.buildArgs[name];
    }
    if (value === undefined && def !== undefined) value = expandWord(def, vars, { escape: b.df.escape });
    if (value === undefined && st) value = b.globals.get(name);
    if (value !== undefined) scope.set(name, value); else scope.delete(name);
  }
}

/** One history entry, and the running key folded over the instruction. */
function addHistory(st: StageState, createdBy: string, emptyLayer: boolean, created: string): void {
  st.config.history!.push({ created, created_by: createdBy, ...(emptyLayer ? { empty_layer: true } : {}) });
}

function stepText(ins: Instruction): string {
  return ins.original;
}

/** RUN's environment: the image's Env, plus the stage's ARGs that ENV does not set, plus a PATH if none. */
function runEnv(st: StageState): string[] {
  const env = [...(st.config.config.Env ?? [])];
  const have = envMap(env);
  for (const [k, v] of st.args) if (!have.has(k)) env.push(`${k}=${v}`);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  return env;
}

/** Classic builder's record of a RUN with build args: `|2 A=1 B=2 /bin/sh -c make`. */
function runHistory(st: StageState, argv: string[]): string {
  const args = [...st.args].sort(([a], [c]) => a.localeCompare(c)).map(([k, v]) => `${k}=${v}`);
  return `${args.length ? `|${args.length} ${args.join(' ')} ` : ''}${argv.join(' ')}`;
}

interface Made { tarFile?: string; stage?: string }

async function layerStep(b: Build, st: StageState, ins: Instruction, key: string, createdBy: string, make: () => Promise<Made>): Promise<void> {
  const no = b.stepNo.get(ins) ?? 0;
  const hit = b.input.noCache ? undefined : lookupCache(b.p, key);
  b.emit({ type: 'step', stage: st.node.index, step: no, total: b.total, text: stepText(ins), cached: !!hit });
  if (hit) {
    b.stats.cached++;
    st.layers.push(hit.layer);
    st.config.rootfs.diff_ids.push(hit.layer.diffId);
    addHistory(st, hit.createdBy, false, hit.created);
    st.created = hit.created;
    st.key = key;
    return;
  }
  b.stats.ran++;
  const { tarFile, stage } = await make();
  if (!tarFile) throw new BuildError('BUILD_UNSUPPORTED', `${ins.keyword} produced no layer`);
  b.tmpFiles.add(tarFile);
  let layer: BuiltLayer;
  try {
    layer = await storeTarLayer(b.p, tarFile, stage);
  } finally {
    fs.rmSync(tarFile, { force: true });
    b.tmpFiles.delete(tarFile);
  }
  const created = nowIso(b);
  await recordCache(b.p, { key, layer, created, createdBy });
  st.layers.push(layer);
  st.config.rootfs.diff_ids.push(layer.diffId);
  addHistory(st, createdBy, false, created);
  st.created = created;
  st.key = key;
}

function tmpTar(b: Build, what: string): string {
  return path.join(b.p.tmp, `build-${what}-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tar`);
}

async function runInstruction(b: Build, st: StageState, ins: Instruction): Promise<void> {
  checkFlags(ins, ['mount', 'network', 'security']);
  const shell = st.config.config.Shell ?? DEFAULT_SHELL;
  let argv: string[];
  if (ins.heredocs.length && /^<<-?["']?\w+["']?$/.test(ins.args.trim())) {
    // `RUN <<EOF` alone: the body is the script, run by the shell (the reference, "Here-Documents").
    argv = [...shell, ins.heredocs[0].body];
  } else if (ins.heredocs.length) {
    // A command that reads the heredoc itself: the shell gets the text as written, bodies included.
    argv = [...shell, [ins.args, ...ins.heredocs.map((h) => `${h.body}${h.name}`)].join('\n')];
  } else {
    argv = commandOf(ins, shell);
  }
  const network = (flag(ins, 'network') ?? b.input.network) as BuildInput['network'];
  if (!['default', 'none', 'host'].includes(network)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: RUN --network=${network}: expected default, none or host`);
  const mounts = flags(ins, 'mount');
  const { buildMounts } = await import('./mounts');
  const prepared = await buildMounts(b, st.node.index, mounts, ins.line);
  const createdBy = runHistory(st, argv);
  const key = cacheKey([st.key, 'RUN', JSON.stringify(argv), JSON.stringify([...st.args].sort()), JSON.stringify(mounts), ...prepared.keys, network === 'none' ? 'none' : '']);
  try {
    await layerStep(b, st, ins, key, createdBy, async () => {
      const { runStep } = await import('./runStep');
      const res = await runStep(b.p, {
        layers: st.layers.map((l) => l.diffId), image: st.image, imageId: st.imageId || 'sha256:' + '0'.repeat(64),
        argv, env: runEnv(st), user: st.config.config.User ?? '', cwd: st.config.config.WorkingDir || '/', network,
        mounts: prepared.mounts, signal: b.input.signal, lowerDirs: lowerDirs(b, st),
        onOutput: (stream, data) => b.emit({ type: 'output', stage: st.node.index, step: b.stepNo.get(ins) ?? 0, stream, data }),
        defer: (pr) => b.deferred.push(pr),
      });
      if (res.exitCode !== 0) {
        throw new BuildError('BUILD_RUN_FAILED', `${b.file}:${ins.line}: ${ins.original.length > 200 ? ins.original.slice(0, 197) + '...' : ins.original}: the command exited with status ${res.exitCode}`, 1);
      }
      return { tarFile: res.tarFile, stage: res.stage };
    });
  } finally {
    await prepared.release();
  }
}

async function copyInstruction(b: Build, st: StageState, ins: Instruction): Promise<void> {
  const add = ins.keyword === 'ADD';
  checkFlags(ins, add ? ['chown', 'chmod', 'checksum', 'link', 'keep-git-dir'] : ['from', 'chown', 'chmod', 'link', 'parents']);
  const vars = stageVars(st);
  const ex = (w: string) => expandWord(w, vars, { escape: b.df.escape });
  const words = ins.json ?? ins.args.split(/\s+/).filter(Boolean);
  const heredocs = new Map(ins.heredocs.map((h) => [h.name, h]));
  const list = words.filter((w) => !/^<<-?["']?\w+["']?$/.test(w) || !heredocs.size).map((w) => ex(w));
  const heredocWords = words.filter((w) => heredocs.size && /^<<-?["']?\w+["']?$/.test(w)).map((w) => w.replace(/^<<-?["']?|["']?$/g, ''));
  if (list.length + heredocWords.length < 2 && !(heredocWords.length && list.length === 1)) {
    throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  }
  const destRaw = list.pop()!;
  const workdir = st.config.config.WorkingDir || '/';
  let dest = path.posix.resolve(workdir, destRaw);
  if (destRaw.endsWith('/') || destRaw === '.' || destRaw.endsWith('/.')) dest += dest.endsWith('/') ? '' : '/';
  const chownSpec = flag(ins, 'chown');
  const owner = chownSpec ? chownIds(b, st, ex(chownSpec)) : undefined;
  const chmodSpec = flag(ins, 'chmod');
  let chmod: number | undefined;
  if (chmodSpec !== undefined) {
    if (!/^[0-7]{3,4}$/.test(chmodSpec)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: --chmod=${chmodSpec}: expected an octal mode like 755`);
    chmod = parseInt(chmodSpec, 8);
  }
  const fromRef = flag(ins, 'from');
  const sources: CopySource[] = [];
  const cleanup: Array<() => Promise<void> | void> = [];
  let contentKey: string;
  const ownerKeys: string[] = [];
  try {
    let materialize: (() => Promise<void>) | undefined;
    if (fromRef !== undefined) {
      const { selectFromImage } = await import('./copyFrom');
      const r = await selectFromImage(b, st.node.index, ex(fromRef), list, ins.line);
      cleanup.push(r.cleanup);
      contentKey = r.key;
      // Read out of the other stage or image only when the step runs (a cache hit needs no files).
      materialize = async () => { sources.push(...await r.sources()); };
    } else {
      for (const src of list) {
        if (/^[a-z]+:\/\//i.test(src)) {
          if (!add) throw new BuildError('BUILD_SYNTAX', `COPY ${src}: COPY takes files of the context only — use ADD for a URL`);
          const dir = fs.mkdtempSync(path.join(b.p.tmp, 'build-url-'));
          cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
          const { fetchRemote } = await import('./remote');
          const file = await fetchRemote(src, dir);
          sources.push({ arg: path.basename(file), files: [{ abs: file, rel: '', st: fs.lstatSync(file), top: true }], glob: false });
          continue;
        }
        const files = selectSource(b.ctx, src, ins.keyword);
        // ADD of a local tar archive (plain or gzip) adds its contents, not the file (the reference, ADD).
        const archive = add && files.length === 1 && files[0].st.isFile() ? await extractIfArchive(b, files[0].abs, cleanup) : undefined;
        if (archive) {
          const { makeIgnore } = await import('./context');
          const { archiveOwners } = await import('./archiveOwners');
          // The archive's own owners and modes go into the layer (Docker's ADD); they are part of the key.
          const owners = await archiveOwners(files[0].abs, archive.gzip);
          const selected = selectSource({ root: archive.dir, ignore: makeIgnore(''), cleanup: () => undefined }, '.', ins.keyword)
            .map((f) => ({ ...f, archived: f.rel ? owners.get(f.rel) : undefined }));
          ownerKeys.push(JSON.stringify(selected.map((f) => [f.rel, f.archived ?? null])));
          sources.push({ arg: src, files: selected, glob: false });
        } else {
          sources.push({ arg: src, files, glob: /[*?[]/.test(src) });
        }
      }
      for (const name of heredocWords) {
        const h = heredocs.get(name)!;
        const dir = fs.mkdtempSync(path.join(b.p.tmp, 'build-heredoc-'));
        cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, name);
        fs.writeFileSync(file, h.expand ? expandWord(h.body, vars, { escape: b.df.escape, varsOnly: true }) : h.body, { mode: 0o644 });
        const stt = fs.lstatSync(file);
        sources.push({ arg: name, files: [{ abs: file, rel: '', st: stt, top: true }], glob: false });
      }
      const { selectionDigest } = await import('./context');
      contentKey = selectionDigest(sources.flatMap((s) => s.files.map((f): SelectedFile => ({ ...f, rel: `${s.arg}\u0000${f.rel}` }))));
      if (ownerKeys.length) contentKey = cacheKey([contentKey, ...ownerKeys]);
    }
    const createdBy = `/bin/sh -c #(nop) ${ins.keyword} ${contentKey.slice(0, 19)} in ${dest}`;
    const key = cacheKey([st.key, ins.keyword, dest, JSON.stringify(owner ?? null), String(chmod ?? ''), contentKey, String(b.input.timestamp ?? '')]);
    const mapping = callerMapping();
    await layerStep(b, st, ins, key, createdBy, async () => {
      if (materialize) await materialize();
      const out = tmpTar(b, 'copy');
      b.tmpFiles.add(out);
      // Written twice at once: as the tar (for the diff_id and the blob) and, when every entry is
      // root's (the caller's own files), straight into a layer directory, which then needs no unpacking.
      const stage = newLayerStage(b.p);
      fs.mkdirSync(path.join(stage, 'diff'), { mode: 0o755 });
      let mirrored = false;
      try {
        ({ mirrored } = writeCopyLayer({ dest, sources, owner, chmod, mtime: b.input.timestamp, lowerDirs: lowerDirs(b, st), uidMap: mapping.uid, gidMap: mapping.gid }, out, path.join(stage, 'diff')));
      } finally {
        if (!mirrored) fs.rmSync(stage, { recursive: true, force: true });
      }
      return { tarFile: out, stage: mirrored ? stage : undefined };
    });
  } finally {
    for (const c of cleanup) await c();
  }
}

/** FILE unpacked into a private directory when it is a tar (plain or gzip-compressed); undefined otherwise. */
async function extractIfArchive(b: Build, file: string, cleanup: Array<() => Promise<void> | void>): Promise<{ dir: string; gzip: boolean } | undefined> {
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try { n = fs.readSync(fd, head, 0, 512, 0); } finally { fs.closeSync(fd); }
  const gzip = n >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const tar = n >= 262 && head.toString('latin1', 257, 262) === 'ustar';
  if (!gzip && !tar) return undefined;
  const dir = fs.mkdtempSync(path.join(b.p.tmp, 'build-add-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const zlib = require('node:zlib') as typeof import('node:zlib');
  const input = fs.createReadStream(file);
  const { unpackContextTar } = await import('./context');
  try {
    await unpackContextTar(gzip ? input.pipe(zlib.createGunzip()) : input, dir);
  } catch (e) {
    // A gzip file that is not a tar is added as the file it is (Docker does the same).
    if (gzip) { fs.rmSync(dir, { recursive: true, force: true }); return undefined; }
    throw e;
  }
  return { dir, gzip };
}

async function metadataInstruction(b: Build, st: StageState, ins: Instruction): Promise<void> {
  const vars = stageVars(st);
  const { config, history } = applyMetadata(st.config.config, ins, { escape: b.df.escape, vars, cmdSetInStage: st.cmdSet });
  if (ins.keyword === 'CMD') st.cmdSet = true;
  st.config.config = config;
  st.key = cacheKey([st.key, 'META', history]);
  b.emit({ type: 'step', stage: st.node.index, step: b.stepNo.get(ins) ?? 0, total: b.total, text: stepText(ins), cached: false });
  addHistory(st, history, true, st.created);
}

async function instruction(b: Build, st: StageState, ins: Instruction): Promise<void> {
  if (b.input.signal?.aborted) throw new BuildError('BUILD_CANCELLED', 'the build was cancelled', 130);
  try {
    switch (ins.keyword) {
      case 'ARG': {
        b.emit({ type: 'step', stage: st.node.index, step: b.stepNo.get(ins) ?? 0, total: b.total, text: stepText(ins), cached: false });
        declareArg(b, st, ins, st.args, stageVars(st));
        st.key = cacheKey([st.key, 'ARG', JSON.stringify([...st.args].sort())]);
        return;
      }
      case 'RUN': return await runInstruction(b, st, ins);
      case 'COPY':
      case 'ADD': return await copyInstruction(b, st, ins);
      case 'FROM': throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: FROM inside a stage`);
      default: return await metadataInstruction(b, st, ins);
    }
  } catch (e) {
    if (e instanceof BuildError && e.code === 'BUILD_RUN_FAILED') throw e;
    throw atLine(b.file, ins.line, ins.original, e);
  }
}

/** ONBUILD triggers of the base image, run right after FROM (and not inherited further). */
async function onbuildTriggers(b: Build, st: StageState): Promise<void> {
  const triggers = st.config.config.OnBuild ?? [];
  if (!triggers.length) return;
  delete st.config.config.OnBuild;
  for (const t of triggers) {
    const parsed = parseDockerfile(`FROM scratch\n${t}\n`).stages[0].instructions[0];
    const ins: Instruction = { ...parsed, line: st.node.from.line, original: `ONBUILD ${parsed.original}` };
    b.stepNo.set(ins, b.stepNo.get(st.node.from) ?? 0);
    await instruction(b, st, ins);
  }
}

async function buildStage(b: Build, node: StageNode): Promise<StageState> {
  const fromNo = b.stepNo.get(node.from) ?? 0;
  b.emit({ type: 'step', stage: node.index, step: fromNo, total: b.total, text: node.from.original, cached: false });
  const st = await baseState(b, node);
  const baseLayers = st.layers.length;
  if (node.baseStage === undefined) st.config.config.OnBuild && await onbuildTriggers(b, st);
  for (const ins of node.instructions) await instruction(b, st, ins);
  if (b.input.squashStages && st.layers.length - baseLayers > 1) await squashStage(b, st, baseLayers);
  b.emit({ type: 'stage-done', stage: node.index, name: node.name });
  return st;
}

/**
 * --layers=false: the stage's layers above its base become one (podman's and buildah's rule), merged
 * in the user namespace where their owners map (worker/mergeLayers.ts). The history keeps every step;
 * only the last layer-making one is marked as having the layer, so entries and layers still pair up.
 */
async function squashStage(b: Build, st: StageState, baseLayers: number): Promise<void> {
  const { layerDiffDir } = await import('../storage/layers');
  const { runWorker } = await import('../helper/usernsWorker');
  const added = st.layers.slice(baseLayers);
  const out = tmpTar(b, 'squash');
  b.tmpFiles.add(out);
  let layer: BuiltLayer;
  try {
    const root = path.join(b.p.tmp, `build-squash-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
    await runWorker('merge', [root, out, ...added.map((l) => layerDiffDir(b.p, l.diffId))]);
    layer = await storeTarLayer(b.p, out);
  } finally {
    fs.rmSync(out, { force: true });
    b.tmpFiles.delete(out);
  }
  st.layers = [...st.layers.slice(0, baseLayers), layer];
  st.config.rootfs.diff_ids = [...st.config.rootfs.diff_ids.slice(0, baseLayers), layer.diffId];
  const history = st.config.history ?? [];
  let seen = 0;
  for (let i = history.length - 1; i >= 0 && seen < added.length; i--) {
    if (history[i].empty_layer) continue;
    if (seen++ > 0) history[i].empty_layer = true;
  }
}

/** Removes what a killed build left in the store's tmp/ (names carry the build's pid: build-*-PID-*). */
function sweepBuildTmp(p: StorePaths): void {
  let names: string[];
  try { names = fs.readdirSync(p.tmp); } catch { return; }
  for (const n of names) {
    const m = /^build-[a-z-]+?-(\d+)-[0-9a-f]{12}\.tar$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try { process.kill(Number(m[1]), 0); continue; } catch { /* its build is gone */ }
    fs.rmSync(path.join(p.tmp, n), { force: true });
  }
}

export async function buildImage(p: StorePaths, input: BuildInput, onEvent: (e: BuildEvent) => void): Promise<BuildResult> {
  ensureStore(p);
  const { sweepBuildContainers } = await import('./runStep');
  await sweepBuildContainers(p);
  sweepBuildTmp(p);
  if (input.platform) {
    const { checkBuildPlatform } = await import('./platform');
    checkBuildPlatform(input.platform, '--platform');
  }
  for (const t of input.tags) {
    const { parseReferenceParts } = await import('../image/reference');
    parseReferenceParts(t);
  }
  const hostDockerfile = 'dir' in input.context && input.dockerfile ? path.resolve(input.dockerfile) : undefined;
  const ctx = await openContext(input.context, p.tmp, hostDockerfile ?? input.dockerfile);
  const tmpFiles = new Set<string>();
  const deferred: Array<Promise<unknown>> = [];
  try {
    const { text, file } = readDockerfile(input, ctx);
    const df = parseDockerfile(text);
    const globals = platformArgs();
    const b: Build = {
      p, input, emit: onEvent, df, file, ctx, globals, nodes: [], results: new Map(), stepNo: new Map(), total: 0,
      usedArgs: new Set(), stats: { cached: 0, ran: 0 }, tmpFiles, deferred,
    };
    for (const ins of df.globalArgs) declareArg(b, undefined, ins, globals, globals);
    b.nodes = stageGraph(df, globals);
    const target = targetIndex(b.nodes, input.target);
    const needed = neededStages(b.nodes, target);
    let n = 0;
    for (const i of needed) {
      b.stepNo.set(b.nodes[i].from, ++n);
      for (const ins of b.nodes[i].instructions) b.stepNo.set(ins, ++n);
    }
    b.total = n;
    // Every needed stage starts now; each waits inside for the stages it reads.
    const own = new Map<number, Promise<StageState>>();
    for (const i of needed) {
      const node = b.nodes[i];
      const deps = node.deps.filter((d) => d !== node.baseStage);
      const pr = (async () => {
        for (const d of deps) await own.get(d);
        return buildStage(b, node);
      })();
      pr.catch(() => undefined);  // awaited below; an early failure must not be unhandled meanwhile
      own.set(i, pr);
      b.results.set(i, pr);
    }
    const results = await Promise.allSettled(needed.map((i) => own.get(i)!));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const final = await own.get(target)!;
    const unused = Object.keys(input.buildArgs).filter((k) => !b.usedArgs.has(k) && !platformArgs().has(k));
    if (unused.length) onEvent({ type: 'warning', message: `one or more build args were not consumed: ${unused.join(', ')}` });
    const config = structuredClone(final.config);
    if (Object.keys(input.labels).length) config.config.Labels = { ...(config.config.Labels ?? {}), ...input.labels };
    const created = input.timestamp !== undefined ? isoTime(input.timestamp) : final.created;
    const ordered: ImageConfig = {
      created,
      architecture: config.architecture,
      os: config.os,
      ...(config.variant ? { variant: config.variant } : {}),
      config: config.config,
      rootfs: config.rootfs,
      history: config.history,
    };
    const img = await commitBuiltImage(p, ordered, final.layers, input.tags);
    onEvent({ type: 'done', imageId: img.id, names: img.names });
    return { imageId: img.id, names: img.names, cached: b.stats.cached, ran: b.stats.ran };
  } finally {
    await Promise.all(deferred);
    for (const f of tmpFiles) fs.rmSync(f, { force: true });
    ctx.cleanup();
  }
}
