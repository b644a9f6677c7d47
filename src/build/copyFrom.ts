// COPY --from=STAGE|IMAGE: reads the sources out of another stage's (or an image's) layers, as `lodger cp` reads a stopped container.
//
// The layers are mounted for a worker alone (runtime/containerFs.ts) in the caller's user namespace,
// and each source is copied out to a private directory owned by the caller; COPY then writes those
// files as it writes context files (owners 0:0 unless --chown, as the Dockerfile reference says).
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore from '@balena/dockerignore';
import { runOnContainerFs } from '../containers/containerFs';
import { createContainerRecord, newContainerId, type ContainerRecord } from '../storage/containers';
import { chooseDriver } from '../storage/driver';
import { removeContainer } from '../containers/remove';
import { callerMapping } from '../helper/usernsWorker';
import { cacheKey } from './cache';
import { selectSource, type Context } from './context';
import type { CopySource } from './copyLayer';
import { BuildError } from './errors';
import type { Build } from './state';
import { stageRef } from './stages';
import { BUILD_LABEL } from './runStep';

async function sourceLayers(b: Build, stage: number, ref: string): Promise<{ layers: string[]; id: string }> {
  const idx = stageRef(b.nodes, ref, stage);
  if (idx !== undefined) {
    const st = await b.results.get(idx);
    if (!st) throw new BuildError('BUILD_STAGE', `COPY --from=${ref}: that stage is not part of this build`);
    return { layers: st.layers.map((l) => l.diffId), id: st.key };
  }
  const { ensureImage } = await import('../image/pull');
  const img = await ensureImage(b.p, ref, b.input.pull === 'always' ? 'always' : b.input.pull);
  return { layers: img.layers, id: img.id };
}

/** SRC split at its first component with a wildcard: the path to copy out and the pattern below it (none without wildcards). */
export function splitWildcard(src: string): { copied: string; pattern?: string } {
  const parts = path.posix.resolve('/', src).split('/').filter(Boolean);
  const i = parts.findIndex((x) => /[*?[]/.test(x));
  if (i < 0) return { copied: src };
  return { copied: '/' + parts.slice(0, i).join('/'), pattern: parts.slice(i).join('/') };
}

export async function selectFromImage(b: Build, stage: number, ref: string, srcs: string[], _line: number): Promise<{ key: string; sources: () => Promise<CopySource[]>; cleanup: () => Promise<void> }> {
  const src = await sourceLayers(b, stage, ref);
  const key = cacheKey(['from', src.id, ...src.layers, ...srcs]);
  let dir: string | undefined;
  let recId: string | undefined;
  const cleanup = async () => {
    if (recId) await removeContainer(b.p, recId, true).catch(() => undefined);
    if (dir) {
      const { removeTrees } = await import('../storage/layers');
      await removeTrees([dir]).catch(() => fs.rmSync(dir!, { recursive: true, force: true }));
    }
  };
  const sources = async (): Promise<CopySource[]> => {
    const mapping = callerMapping();
    const driver = await chooseDriver(b.p, mapping);
    const id = newContainerId();
    const rec: ContainerRecord = {
      Id: id, Name: `build-from-${id.slice(0, 12)}`, Created: new Date().toISOString(), Image: ref, ImageID: src.id,
      Config: { Hostname: id.slice(0, 12), Domainname: '', User: '', Env: [], Cmd: null, Entrypoint: null, Image: ref, WorkingDir: '', Labels: { [BUILD_LABEL]: String(process.pid) }, Tty: false, OpenStdin: false },
      HostConfig: {
        Binds: [], NetworkMode: 'none', AutoRemove: false, ReadonlyRootfs: true, Init: false, Privileged: false, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        PortBindings: {}, Dns: [], DnsSearch: [], DnsOptions: [], ExtraHosts: [], CapAdd: [], CapDrop: [], SecurityOpt: [], UsernsMode: mapping.setgroupsDeny ? 'single' : '', Resources: {}, Cgroups: 'disabled',
      },
      Mounts: [], Driver: driver === 'vfs' ? 'fuse-overlayfs' : driver, Layers: src.layers,
    };
    await createContainerRecord(b.p, rec, (d) => { for (const x of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(d, x), { mode: 0o755 }); });
    recId = id;
    dir = fs.mkdtempSync(path.join(b.p.tmp, 'build-from-'));
    const out: CopySource[] = [];
    for (const [i, s] of srcs.entries()) {
      const slot = path.join(dir, String(i));
      fs.mkdirSync(slot);
      // A wildcard source: the directory above its first wildcard is copied out, and the pattern is
      // matched there as for context sources (same rules: filepath.Match, a matched file keeps its name).
      const { copied, pattern } = splitWildcard(s);
      try {
        await runOnContainerFs(b.p, rec, { write: false }, 'cp', (root) => [JSON.stringify({ direction: 'out', root, containerPath: copied, hostPath: slot + '/', archive: false, follow: true })]);
      } catch (e) {
        throw new BuildError('BUILD_COPY_SOURCE', `COPY --from=${ref} ${s}: ${(e as Error).message}`);
      }
      const names = fs.readdirSync(slot);
      if (names.length !== 1) throw new BuildError('BUILD_COPY_SOURCE', `COPY --from=${ref} ${s}: no such file or directory in ${ref}`);
      const ctx: Context = { root: pattern === undefined ? slot : path.join(slot, names[0]), ignore: ignore(), cleanup: () => undefined };
      try {
        out.push({ arg: s, files: selectSource(ctx, pattern ?? names[0], 'COPY'), glob: pattern !== undefined });
      } catch (e) {
        throw new BuildError('BUILD_COPY_SOURCE', `COPY --from=${ref} ${s}: no such file or directory in ${ref}`);
      }
    }
    return out;
  };
  return { key, sources, cleanup };
}
