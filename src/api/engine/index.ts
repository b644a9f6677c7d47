// The engine behind the API: one object implementing the handlers' Backend over one store.
import type { StorePaths } from '../../storage/paths';
import * as volumes from '../../volumes/volumes';
import type { Backend } from '../backend';
import { archiveIn, archiveOut } from './archive';
import { ContainerEngine } from './containers';
import { ExecEngine } from './exec';
import { checkRegistryAuth, ImageEngine, loadFromBody } from './images';
import { NetworkEngine } from './networks';
import { dfDoc, infoDoc, versionDoc } from './system';

export function engineBackend(p: StorePaths): Backend {
  const c = new ContainerEngine(p);
  const i = new ImageEngine(p);
  const n = new NetworkEngine(p);
  const x = new ExecEngine(p);
  return {
    version: versionDoc,
    info: () => infoDoc(p),
    df: () => dfDoc(p),
    drain: () => c.drain(),
    subscribe: (on) => c.subscribe(on),
    listContainers: (o) => c.list(o),
    inspectContainer: (ref) => c.inspect(ref),
    containerTty: (ref) => c.tty(ref),
    createContainer: (name, body) => c.create(name, body),
    startContainer: (ref) => c.start(ref),
    stopContainer: (ref, t) => c.stop(ref, t),
    killContainer: (ref, sig) => c.kill(ref, sig),
    restartContainer: (ref, t) => c.restart(ref, t),
    pauseContainer: (ref, pause) => c.pause(ref, pause),
    renameContainer: (ref, name) => c.rename(ref, name),
    removeContainer: (ref, force) => c.remove(ref, force),
    pruneContainers: (f) => c.prune(f),
    waitContainer: (ref, cond, abort) => c.wait(ref, cond, abort),
    attachContainer: (ref, o, sinks, abort) => c.attach(ref, o, sinks, abort),
    containerLogs: (ref, o, sinks, abort) => c.logs(ref, o, sinks, abort),
    topContainer: (ref, ps) => c.top(ref, ps),
    containerStats: (ref) => c.stats(ref),
    resizeContainer: (ref, rows, cols) => c.resize(ref, rows, cols),
    archiveOut: (ref, path) => archiveOut(p, ref, path),
    archiveIn: (ref, path, body) => archiveIn(p, ref, path, body, { maxBytes: 8 * 2 ** 30 }),
    createExec: (ref, body) => x.create(ref, body),
    execTty: (id) => x.tty(id),
    startExec: (id, o, sinks, abort) => x.start(id, o, sinks, abort),
    inspectExec: (id) => x.inspect(id),
    listImages: (o) => i.list(o),
    inspectImage: (name) => i.inspect(name),
    imageHistory: (name) => i.history(name),
    pullImage: (ref, o, progress) => i.pull(ref, o, progress),
    pushImage: (ref, o, progress) => i.push(ref, o, progress),
    tagImage: (name, repo, tag) => i.tag(name, repo, tag),
    removeImage: (name, force) => i.remove(name, force),
    pruneImages: (all, f) => i.prune(all, f),
    saveImages: (names, out) => i.save(names, out),
    loadImages: (body) => loadFromBody(p, body),
    checkAuth: (reg, user, pass) => checkRegistryAuth(reg, user, pass),
    listVolumes: (f) => volumes.listVolumes(p, volumes.parseVolumeFilters(f)) as unknown as Array<Record<string, unknown>>,
    inspectVolume: (name) => volumes.inspectVolume(p, name) as unknown as Record<string, unknown>,
    createVolume: async (name, o) => (await volumes.createVolume(p, name, o)) as unknown as Record<string, unknown>,
    removeVolume: (name, force) => volumes.removeVolume(p, name, { force }),
    pruneVolumes: (f) => volumes.pruneVolumes(p, { filters: volumes.parseVolumeFilters(f) }),
    buildImage: async (input, onEvent) => {
      const { buildImage } = await import('../../build/executor');
      return buildImage(p, input, onEvent);
    },
    exportContainer: async (ref, out) => {
      const { exportContainer } = await import('../../containers/exportFs');
      await exportContainer(p, ref, undefined, out);
    },
    listNetworks: (f) => n.list(f),
    inspectNetwork: (id) => n.inspect(id),
    createNetwork: (body) => n.create(body),
    removeNetwork: (id) => n.remove(id),
    connectNetwork: (id, ctr, aliases) => n.connect(ctr, id, aliases),
    disconnectNetwork: (id, ctr) => n.disconnect(ctr, id),
  };
}
