// What the API's handlers need from the engine (moby's backend.go): one interface, so handlers stay
// thin (parse, call, encode) and the engine behind it is the same code the CLI calls.
import type { Readable, Writable } from 'node:stream';

export type Filters = Map<string, string[]>;

export interface ContainerListOptions { all: boolean; limit?: number; size: boolean; filters: Filters }
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export interface AttachStreams { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean }
export interface LogsQuery { follow: boolean; stdout: boolean; stderr: boolean; since?: number; until?: number; tail?: number; timestamps: boolean }
/** Where a container's output goes: already framed or raw by the caller (mux.ts). */
export interface OutputSinks { out: Writable; err: Writable; input?: Readable }
export interface PullProgress { status: string; id?: string; progressDetail?: { current?: number; total?: number }; progress?: string }
export interface ApiEvent { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: 'local'; time: number; timeNano: number; status?: string; id?: string; from?: string }

export interface Backend {
  // system
  version(): Record<string, unknown>;
  info(): Promise<Record<string, unknown>>;
  df(): Promise<Record<string, unknown>>;
  /** Calls ON for each event from now on until SIGNAL aborts (events the service itself caused). */
  subscribe(on: (e: ApiEvent) => void): () => void;
  /** Resolves when work that outlived its request (a removal's file deletion) is done. */
  drain(): Promise<void>;

  // containers
  listContainers(o: ContainerListOptions): Array<Record<string, unknown>>;
  inspectContainer(ref: string): Record<string, unknown>;
  containerTty(ref: string): boolean;
  createContainer(name: string | undefined, body: Record<string, unknown>): Promise<{ Id: string; Warnings: string[] }>;
  startContainer(ref: string): Promise<'started' | 'already'>;
  stopContainer(ref: string, timeoutSec?: number, signal?: string): Promise<'stopped' | 'already'>;
  killContainer(ref: string, signal: string): Promise<void>;
  restartContainer(ref: string, timeoutSec?: number): Promise<void>;
  pauseContainer(ref: string, pause: boolean): Promise<void>;
  renameContainer(ref: string, name: string): Promise<void>;
  removeContainer(ref: string, force: boolean): Promise<void>;
  pruneContainers(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }>;
  waitContainer(ref: string, condition: WaitCondition, abort: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } }>;
  /** Relays the container's output (from the start it is about to have, or now) until it exits or ABORT fires. */
  attachContainer(ref: string, o: AttachStreams, sinks: OutputSinks, abort: AbortSignal): Promise<void>;
  containerLogs(ref: string, o: LogsQuery, sinks: OutputSinks, abort: AbortSignal): Promise<void>;
  topContainer(ref: string, psArgs: string[]): { Titles: string[]; Processes: string[][] };
  containerStats(ref: string): Promise<Record<string, unknown>>;
  resizeContainer(ref: string, rows: number, cols: number): Promise<void>;
  /** docker cp out: the tar of PATH, staged; done() drops it. */
  archiveOut(ref: string, path: string | null): Promise<{ stat: { name: string; size: number; mode: number; mtime: string; linkTarget: string }; file: string; done: () => void }>;
  /** docker cp in: BODY (a tar) extracted into directory PATH of the container. */
  archiveIn(ref: string, path: string | null, body: Readable): Promise<void>;

  // exec
  createExec(ref: string, body: Record<string, unknown>): { Id: string };
  execTty(id: string): boolean;
  /** With DETACH resolves once started; else relays its stdio through SINKS and resolves at its exit. */
  startExec(id: string, o: { detach: boolean; tty?: boolean }, sinks: OutputSinks | undefined, abort: AbortSignal): Promise<void>;
  inspectExec(id: string): Record<string, unknown>;

  // images
  listImages(o: { all: boolean; filters: Filters }): Array<Record<string, unknown>>;
  inspectImage(name: string): Record<string, unknown>;
  imageHistory(name: string): Array<Record<string, unknown>>;
  pullImage(ref: string, o: { platform?: string; auth?: { username?: string; password?: string; serveraddress?: string } }, progress: (p: PullProgress) => void): Promise<void>;
  pushImage(ref: string, o: { auth?: { username?: string; password?: string } }, progress: (p: PullProgress) => void): Promise<{ digest: string }>;
  tagImage(name: string, repo: string, tag: string): Promise<void>;
  removeImage(name: string, force: boolean): Promise<Array<{ Untagged?: string; Deleted?: string }>>;
  pruneImages(all: boolean, filters: Filters): Promise<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }>; SpaceReclaimed: number }>;
  saveImages(names: string[], out: Writable): Promise<void>;
  /** docker load: a docker-archive or OCI archive tar; resolves with the names (or ids) loaded. */
  loadImages(body: Readable): Promise<string[]>;
  /** Checks credentials against a registry (GET /v2/ with them); stores nothing: clients keep their own. */
  checkAuth(registry: string, username: string, password: string): Promise<void>;
  exportContainer(ref: string, out: Writable): Promise<void>;

  // volumes
  listVolumes(filters: string[]): Array<Record<string, unknown>>;
  inspectVolume(name: string): Record<string, unknown>;
  createVolume(name: string | undefined, o: { driver?: string; labels: Record<string, string>; options: Record<string, string> }): Promise<Record<string, unknown>>;
  removeVolume(name: string, force: boolean): Promise<void>;
  pruneVolumes(filters: string[]): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;

  // build
  buildImage(input: import('../build/types').BuildInput, onEvent: (e: import('../build/types').BuildEvent) => void): Promise<{ imageId: string; names: string[] }>;

  // networks
  listNetworks(filters: Filters): Array<Record<string, unknown>>;
  inspectNetwork(id: string): Record<string, unknown>;
  createNetwork(body: Record<string, unknown>): Promise<{ Id: string; Warning: string }>;
  removeNetwork(id: string): Promise<void>;
  connectNetwork(id: string, container: string, aliases: string[]): Promise<void>;
  disconnectNetwork(id: string, container: string): Promise<void>;
}
