// The container half of the API's backend: the same store, records and monitors as the CLI's commands.
import * as os from 'node:os';
import { inspectContainer } from '../../containers/inspect';
import { statusText } from '../../humanize';
import { readNetworkInfo } from '../../containers/networkSetup';
import { containerProcesses, topTable } from '../../containers/top';
import * as fs from 'node:fs';
import { appendedLines } from '../../containers/logFile';
import { EventEmitter, setMaxListeners } from 'node:events';
import { LodgerError } from '../../errors';
import { containerDir, listContainerIds, liveState, pidRunning, readContainer, readState, resolveContainer, ZERO_TIME, type ContainerState } from '../../storage/containers';
import type { StorePaths } from '../../storage/paths';
import type { ApiEvent, AttachStreams, ContainerListOptions, Filters, LogsQuery, OutputSinks, WaitCondition } from '../backend';
import { badRequest, conflict } from '../httpError';
import { createOptionsFromBody, networkAliases } from './createBody';
import { ExitWatch } from './exitWatch';

type Obj = Record<string, unknown>;

const sleep = (ms: number, abort?: AbortSignal) => new Promise<void>((r) => {
  const wake = () => { clearTimeout(t); r(); };
  const t = setTimeout(() => { abort?.removeEventListener('abort', wake); r(); }, ms);
  abort?.addEventListener('abort', wake, { once: true });
});

function monitorAlive(st: ContainerState | undefined): boolean {
  return st?.MonitorPid ? pidRunning(st.MonitorPid) : false;
}

/** Docker's ContainerSummary State strings for lodger's statuses. */
function summary(p: StorePaths, id: string): Obj | undefined {
  const rec = readContainer(p, id);
  if (!rec) return undefined;
  const st = liveState(readState(p, id));
  const net = readNetworkInfo(p, id);
  const ports = (net?.Mappings ?? []).map((m) => ({ IP: m.hostIp || '0.0.0.0', PrivatePort: Number(m.containerPort), PublicPort: Number(m.hostPort), Type: m.protocol }));
  const mode = rec.HostConfig.NetworkMode;
  return {
    Id: rec.Id,
    Names: ['/' + rec.Name],
    Image: rec.Image,
    ImageID: rec.ImageID,
    Command: [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])].join(' '),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: ports,
    Labels: rec.Config.Labels ?? {},
    State: st.Status,
    Status: statusText(st),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: { [mode]: { IPAddress: net?.IPAddress ?? '', Gateway: net?.Gateway ?? '', IPPrefixLen: net?.IPPrefixLen ?? 0, NetworkID: mode } } },
    Mounts: rec.Mounts.map((m) => ({ Type: m.Type, Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation ?? '' })),
  };
}

const CONTAINER_FILTERS = new Set(['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'network', 'health', 'is-task', 'volume', 'publish', 'expose']);

/** Docker's container filters (docs: container ls --filter); several values of one key match any, keys all. */
export function matchContainer(row: Obj, imageId: string, filters: Filters): boolean {
  for (const [key, values] of filters) {
    if (!CONTAINER_FILTERS.has(key)) throw badRequest(`invalid filter '${key}'`);
    if (values.length === 0) continue;
    const labels = row.Labels as Record<string, string>;
    // Labels must all match (moby filters MatchKVList); other keys match any of their values.
    const ok = (key === 'label' ? values.every.bind(values) : values.some.bind(values))((v: string) => {
      switch (key) {
        case 'id': return (row.Id as string).startsWith(v);
        case 'name': return (row.Names as string[]).some((n) => new RegExp(v).test(n.slice(1)) || new RegExp(v).test(n));
        case 'label': {
          const i = v.indexOf('=');
          return i < 0 ? Object.hasOwn(labels, v) : labels[v.slice(0, i)] === v.slice(i + 1);
        }
        case 'status': return row.State === v;
        case 'ancestor': return row.Image === v || imageId === v || imageId.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, '')) || String(row.Image).replace(/:latest$/, '') === v.replace(/:latest$/, '');
        case 'exited': return row.State === 'exited' && String(row.Status).startsWith(`Exited (${v})`);
        case 'network': return Object.keys((row.NetworkSettings as { Networks: Obj }).Networks).includes(v);
        case 'health': return v === 'none';
        default: return true;
      }
    });
    if (!ok) return false;
  }
  return true;
}

export class ContainerEngine {
  readonly events = new EventEmitter();
  private readonly background = new Set<Promise<unknown>>();
  private readonly exits: ExitWatch;
  private listeners = 0;
  constructor(readonly p: StorePaths) {
    this.events.setMaxListeners(0);
    // die: Docker's event for every exit, also of containers that end by themselves under their monitors.
    this.exits = new ExitWatch(p, (id, attrs) => this.emit('die', id, attrs));
  }

  /** Calls ON for each event until the returned function is called; exits are watched while anyone listens. */
  subscribe(on: (e: ApiEvent) => void): () => void {
    this.events.on('event', on);
    if (this.listeners++ === 0) this.exits.start();
    let off = false;
    return () => {
      if (off) return;
      off = true;
      this.events.off('event', on);
      if (--this.listeners === 0) this.exits.stop();
    };
  }

  emit(action: string, id: string, attrs: Record<string, string> = {}): void {
    const rec = readContainer(this.p, id);
    const now = Date.now();
    const Attributes = { ...(rec?.Config.Labels ?? {}), ...(rec ? { name: rec.Name, image: rec.Image } : {}), ...attrs };
    const e: ApiEvent = { Type: 'container', Action: action, Actor: { ID: id, Attributes }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6, status: action, id, from: rec?.Image ?? attrs.image };
    this.events.emit('event', e);
  }

  /** The full id of REF; Docker's wording when there is none (clients match on it, e.g. compose). */
  id(ref: string): string {
    try {
      return resolveContainer(this.p, ref);
    } catch (e) {
      if (e instanceof LodgerError && e.code === 'NO_SUCH_CONTAINER') throw new LodgerError('NO_SUCH_CONTAINER', `No such container: ${ref}`);
      throw e;
    }
  }

  list(o: ContainerListOptions): Obj[] {
    const rows: Array<{ row: Obj; created: string }> = [];
    for (const id of listContainerIds(this.p)) {
      const row = summary(this.p, id);
      if (!row) continue;
      const st = row.State as string;
      if (!o.all && st !== 'running' && st !== 'paused' && !o.filters.has('status')) continue;
      if (!matchContainer(row, row.ImageID as string, o.filters)) continue;
      rows.push({ row, created: readContainer(this.p, id)?.Created ?? '' });
    }
    // Newest first, as docker ps lists them.
    rows.sort((a, b) => b.created.localeCompare(a.created));
    const out = rows.map((r) => r.row);
    return o.limit !== undefined && o.limit > 0 ? out.slice(0, o.limit) : out;
  }

  inspect(ref: string): Obj {
    const id = this.id(ref);
    const rec = readContainer(this.p, id);
    if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `No such container: ${ref}`);
    const doc = inspectContainer(this.p, rec) as Obj;
    // Fields Docker always has that clients read: compose shows logs only for a json-file LogConfig.
    doc.HostConfig = { LogConfig: { Type: 'json-file', Config: {} }, ...(doc.HostConfig as Obj) };
    // The schema has lists where the engine keeps null for "none" (an unset entrypoint).
    doc.Config = { AttachStdin: false, AttachStdout: !rec.Config.OpenStdin, AttachStderr: !rec.Config.OpenStdin, StdinOnce: false, ...(doc.Config as Obj), Entrypoint: rec.Config.Entrypoint ?? [], Cmd: rec.Config.Cmd ?? [] };
    const ns = doc.NetworkSettings as { Networks?: Record<string, Obj> };
    if (rec.NetworkAliases?.length) for (const n of Object.values(ns.Networks ?? {})) n.Aliases = rec.NetworkAliases;
    return doc;
  }

  tty(ref: string): boolean {
    const rec = readContainer(this.p, this.id(ref));
    return !!rec?.Config.Tty;
  }

  async create(name: string | undefined, body: Obj): Promise<{ Id: string; Warnings: string[] }> {
    const o = createOptionsFromBody(name, body);
    // An API container runs under its monitor like one of `run -d`; the client attaches and starts it.
    o.detach = true;
    const { createContainer } = await import('../../containers/create');
    const { callerMapping } = await import('../../helper/usernsWorker');
    const { checkSecurityOptions } = await import('../../security/security');
    if (o.userns && !['single', 'keep-id', 'auto', ''].includes(o.userns)) throw badRequest(`HostConfig.UsernsMode ${o.userns} is not supported: use single, keep-id or leave it empty`);
    checkSecurityOptions(o);
    const aliases = o.network ? networkAliases(body, o.network) : [];
    const { rec } = await createContainer(this.p, o, callerMapping(o.userns));
    // StdinOnce (docker run -i without -d): the attached client's end of input is the container's (attach).
    const stdinOnce = body.StdinOnce === true && rec.Config.OpenStdin;
    if (aliases.length || stdinOnce) {
      const { updateContainerRecord } = await import('../../storage/containers');
      await updateContainerRecord(this.p, rec.Id, (r) => {
        if (aliases.length) r.NetworkAliases = aliases;
        if (stdinOnce) r.Config.StdinOnce = true;
      });
    }
    this.emit('create', rec.Id);
    return { Id: rec.Id, Warnings: [] };
  }

  async start(ref: string): Promise<'started' | 'already'> {
    const id = this.id(ref);
    if (liveState(readState(this.p, id)).Running) return 'already';
    const { startExisting } = await import('../../containers/startExisting');
    await startExisting(this.p, id, undefined);
    this.emit('start', id);
    return 'started';
  }

  async stop(ref: string, timeoutSec?: number): Promise<'stopped' | 'already'> {
    const id = this.id(ref);
    if (!liveState(readState(this.p, id)).Running) return 'already';
    const { stopContainer } = await import('../../containers/lifecycle');
    await stopContainer(this.p, id, timeoutSec);
    this.emit('stop', id);
    return 'stopped';
  }

  async kill(ref: string, signal: string): Promise<void> {
    const id = this.id(ref);
    const rec = readContainer(this.p, id);
    if (!liveState(readState(this.p, id)).Running) throw conflict(`Container ${id} is not running`);
    const { killContainer } = await import('../../containers/lifecycle');
    await killContainer(this.p, id, signal || 'SIGKILL');
    this.emit('kill', id, { signal: signal || 'SIGKILL', name: rec?.Name ?? '' });
  }

  async restart(ref: string, timeoutSec?: number): Promise<void> {
    await this.stop(ref, timeoutSec);
    await this.start(ref);
  }

  async pause(ref: string, pause: boolean): Promise<void> {
    const id = this.id(ref);
    const { pauseContainer } = await import('../../containers/stats');
    await pauseContainer(this.p, id, pause);
    this.emit(pause ? 'pause' : 'unpause', id);
  }

  async rename(ref: string, name: string): Promise<void> {
    const { renameContainer } = await import('../../containers/rename');
    await renameContainer(this.p, this.id(ref), name);
  }

  async remove(ref: string, force: boolean): Promise<void> {
    const id = this.id(ref);
    const st = liveState(readState(this.p, id));
    if (st.Running && !force) {
      throw conflict(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
    }
    const { removeContainer } = await import('../../containers/remove');
    this.emit('destroy', id);
    // The answer goes out once the record is gone (renamed away under the store lock: its name is free,
    // no listing shows it); deleting its files, a store worker's job of a few hundred ms, goes on
    // behind it. A stop of the service waits for it (drain).
    const dir = containerDir(this.p, id);
    const removal = removeContainer(this.p, id, force);
    this.background.add(removal);
    void removal.catch(() => undefined).finally(() => this.background.delete(removal));
    let gone = false;
    await Promise.race([removal, (async () => { while (!gone && fs.existsSync(dir)) await sleep(5); })()]).finally(() => { gone = true; });
  }

  /** Resolves when removals still deleting files have finished. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  async prune(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const { pruneContainers } = await import('../../containers/prune');
    const { parsePruneFilters } = await import('../../storage/pruneFilters');
    const list = [...filters].flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
    const r = await pruneContainers(this.p, parsePruneFilters(list));
    return { ContainersDeleted: r.deleted, SpaceReclaimed: r.reclaimed };
  }

  /**
   * Docker's wait conditions: not-running returns at once for a stopped container, next-exit waits for
   * the next exit, removed for the record to be gone. The exit code is read from state.json as the
   * monitor writes it, before --rm removes the directory (its cleanup runs after the write).
   */
  async wait(ref: string, condition: WaitCondition, abort: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    const id = this.id(ref);
    const dir = containerDir(this.p, id);
    const first = readState(this.p, id);
    const startedAt = first?.StartedAt ?? ZERO_TIME;
    let last = first;
    setMaxListeners(0, abort);
    let watcher: fs.FSWatcher | undefined;
    let wake: () => void = () => undefined;
    // state.json is read the moment it is replaced: --rm's monitor deletes the directory right after
    // writing the exit (supervise.c: write_state, then the cleanup steps), and a poll could miss it.
    const read = () => { const st = readState(this.p, id); if (st) last = st; };
    let guessedSince: number | undefined;
    try {
      watcher = fs.watch(dir, (_e, name) => { if (name === 'state.json') read(); wake(); });
      watcher.on('error', () => wake());
    } catch { /* gone already */ }
    try {
      for (;;) {
        const gone = !fs.existsSync(dir);
        if (!gone) read();
        const raw = gone ? undefined : last;
        // A recorded run whose monitor lives has not ended, whatever its pid says: the monitor writes the
        // exit. One whose record still says running though its process is gone is given a second for
        // that write before liveState's guess ("vanished", 137) is believed.
        if (raw?.Running && !monitorAlive(raw)) guessedSince ??= Date.now(); else guessedSince = undefined;
        const ended = !(raw?.Running && (monitorAlive(raw) || Date.now() - (guessedSince ?? 0) < 1000));
        const st = liveState(last);
        const exitedOnce = ended && !st.Running && st.Status !== 'created' && !monitorAlive(raw);
        const code = { StatusCode: st.ExitCode, ...(st.Error ? { Error: { Message: st.Error } } : {}) };
        if (gone) return last ? code : { StatusCode: 0 };
        if (condition === 'not-running' && ended && !st.Running && !monitorAlive(raw)) return code;
        if (condition === 'next-exit' && exitedOnce && (st.StartedAt !== startedAt || first?.Running)) return code;
        // removed: only the record's removal (by --rm's monitor or a DELETE) ends the wait.
        if (abort.aborted) throw new LodgerError('CANCELLED', 'wait cancelled: the client went away');
        await new Promise<void>((r) => { wake = r; sleep(guessedSince ? 20 : 100, abort).then(r); });
      }
    } finally {
      watcher?.close();
    }
  }

  /**
   * Attach's output: the monitor's json-file log, followed from where it is now (or its start with
   * logs=1) until the container's run that follows ends. A container not yet started (docker run
   * attaches first) has no log yet: it is created empty for the monitor to append to — its monitor
   * opens it O_APPEND|O_CREAT — and the descriptor keeps it readable after --rm deletes it.
   */
  async attach(ref: string, o: AttachStreams, sinks: OutputSinks, abort: AbortSignal): Promise<void> {
    const id = this.id(ref);
    const { logPath } = await import('../../containers/detach');
    const file = logPath(this.p, id);
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
    const first = liveState(readState(this.p, id));
    const read = appendedLines(fd, o.logs ? 0 : fs.fstatSync(fd).size);
    let started = first.Running;
    let stdinDone: Promise<void> | undefined;
    try {
      for (;;) {
        const gone = !fs.existsSync(containerDir(this.p, id));
        const raw = gone ? undefined : readState(this.p, id);
        const st = liveState(raw);
        if (raw && (st.Running || st.StartedAt !== first.StartedAt)) started = true;
        if (started && o.stdin && sinks.input && !stdinDone && st.Running) stdinDone = this.relayStdin(id, sinks.input, abort).catch(() => undefined);
        const final = gone || (started && !st.Running && !monitorAlive(raw));
        const lines = read();
        if (lines.length) {
          for (const text of lines) {
            let l: { log: string; stream: string };
            try { l = JSON.parse(text); } catch { continue; }
            if (l.stream === 'stderr' ? o.stderr : o.stdout) (l.stream === 'stderr' ? sinks.err : sinks.out).write(l.log);
          }
          continue;
        }
        if (final || abort.aborted || (!o.stream && !started)) return;
        await sleep(started ? 30 : 10, abort);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Our client's stdin into a container created with OpenStdin, through its monitor's attach socket. */
  private async relayStdin(id: string, input: NodeJS.ReadableStream, abort: AbortSignal): Promise<void> {
    const rec = readContainer(this.p, id);
    if (!rec?.Config.OpenStdin) return;
    const { attachSocketPath } = await import('../../containers/containerPlan');
    const { relayInput } = await import('./monitorSocket');
    await relayInput(attachSocketPath(this.p, id), input, !!rec.Config.StdinOnce && !rec.Config.Tty, abort);
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const id = this.id(ref);
    const rec = readContainer(this.p, id);
    if (!rec?.Config.Tty || !liveState(readState(this.p, id)).Running) return;
    const { attachSocketPath } = await import('../../containers/containerPlan');
    const { resizeThroughMonitor } = await import('./monitorSocket');
    await resizeThroughMonitor(attachSocketPath(this.p, id), rows, cols);
  }

  async logs(ref: string, o: LogsQuery, sinks: OutputSinks, abort: AbortSignal): Promise<void> {
    const id = this.id(ref);
    const { logPath } = await import('../../containers/detach');
    const file = logPath(this.p, id);
    let fd: number;
    try { fd = fs.openSync(file, 'r'); } catch { return; }
    const read = appendedLines(fd);
    try {
      const emit = (text: string) => {
        let l: { log: string; stream: string; time: string };
        try { l = JSON.parse(text); } catch { return; }
        const t = Date.parse(l.time) / 1000;
        if (o.since !== undefined && t < o.since) return;
        if (o.until !== undefined && o.until > 0 && t > o.until) return;
        if (l.stream === 'stderr' ? !o.stderr : !o.stdout) return;
        (l.stream === 'stderr' ? sinks.err : sinks.out).write(o.timestamps ? `${l.time} ${l.log}` : l.log);
      };
      let lines = read();
      if (o.tail !== undefined && o.tail >= 0) lines = lines.slice(Math.max(0, lines.length - o.tail));
      lines.forEach(emit);
      if (!o.follow) return;
      for (;;) {
        const more = read();
        if (more.length) { more.forEach(emit); continue; }
        const raw = fs.existsSync(containerDir(this.p, id)) ? readState(this.p, id) : undefined;
        if (!liveState(raw).Running && !monitorAlive(raw)) return;
        if (abort.aborted) return;
        await sleep(50, abort);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  top(ref: string, psArgs: string[]): { Titles: string[]; Processes: string[][] } {
    return topTable(containerProcesses(this.p, ref), psArgs);
  }

  async stats(ref: string): Promise<Obj> {
    const id = this.id(ref);
    const rec = readContainer(this.p, id)!;
    const st = liveState(readState(this.p, id));
    const now = new Date().toISOString();
    if (!st.Running) return { read: now, preread: ZERO_TIME, id, name: '/' + rec.Name, pids_stats: {}, cpu_stats: {}, precpu_stats: {}, memory_stats: {}, networks: {} };
    const { sampleStats } = await import('../../containers/stats');
    const [s] = await sampleStats(this.p, [id], 100);
    return {
      read: now, preread: now, id, name: '/' + rec.Name,
      pids_stats: { current: s.pids },
      cpu_stats: { cpu_usage: { total_usage: 0 }, online_cpus: os.availableParallelism() },
      precpu_stats: { cpu_usage: { total_usage: 0 } },
      memory_stats: { usage: s.memoryCurrent ?? 0, limit: s.memoryMax === 'max' || s.memoryMax === undefined ? os.totalmem() : s.memoryMax },
      networks: { eth0: { rx_bytes: s.netRx, tx_bytes: s.netTx } },
      lodger: { cpuPercent: s.cpuPercent },
    };
  }
}
