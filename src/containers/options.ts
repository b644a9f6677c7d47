// Every container-creation option declared once: type, default, Docker CLI spelling, help text and its field in Docker's ContainerCreate body.
//
// From this table come the CLI flags of `run` and `create` (cli/containerOptions.ts), the typed input of
// createContainer (CreateOptions, below), the Config/HostConfig fields of the stored record (create.ts
// fills them through `toBody`), and the reading of a Docker API body (createBody.ts).
//
// To add an option (say --shm-size):
//   1. Add an entry to CONTAINER_OPTIONS, in the place `lodger run --help` should list it:
//        shmSize: str('--shm-size', 'Size of /dev/shm (e.g. 64m)', bytesAt('HostConfig.ShmSize')),
//      `bool`, `str` or `list` give the type (a list flag may be repeated); the third argument says where
//      Docker's API body carries it: boolAt/strAt/listAt/bytesAt/intAt(path) for a field copied as is (a
//      size in bytes, an integer), a `{ to, from }` pair for anything shaped differently (see `restart`),
//      or `notInBody(why)` for what the docker CLI handles itself (-d, --env-file) or lodger alone has.
//      CreateOptions gets the field `shmSize` by itself; the CLI gets the flag by itself.
//   2. If the body field is new to the record, add it to ContainerRecord's Config/HostConfig type
//      (storage/containers.ts): create.ts copies every declared body field into the record.
//   3. Implement it where it takes effect, reading the record (e.g. containerPlan.ts for a mount) and,
//      if bad values must fail at create, check them in create.ts.
//   4. If the body field was refused by createBody.ts (UNSUPPORTED), delete that entry.
//   5. Test the flag (test/unit/containers/options.test.ts lists every flag) and its body mapping.
import { parseBytes, type LimitFlags } from '../cgroups/limits';
import { parseDuration } from './healthConfig';
import { parseMountFlag, type MountSpec } from './mountSpec';
import { parsePublish } from '../network/ports';
import { getField, readBool, readInt, readObject, readString, readStringMap, readStrings, setField, badBody, type ContainerCreateBody } from './bodyFields';

/** How one option travels in Docker's ContainerCreate body. */
export interface BodyMapping<V> {
  /** Writes VALUE (never undefined) into BODY; O is every option, for fields two options share (-i and -d). */
  to?: (value: V, body: ContainerCreateBody, o: Readonly<Record<string, unknown>>) => void;
  /** Reads the option from BODY; undefined when the body does not set it. */
  from?: (body: ContainerCreateBody) => V | undefined;
  /** Not in the body: why (the docker CLI does it itself, it is a query parameter, or lodger's own). */
  notInBody?: string;
  /** A query parameter of POST /containers/create carries it instead (name, platform). */
  query?: string;
}

export type OptionKind = 'boolean' | 'string' | 'list';

export interface OptionDeclaration<V = unknown> {
  kind: OptionKind;
  /** clipanion's spelling: every name, comma-separated (`-e,--env`). */
  flags: string;
  description: string;
  body: BodyMapping<V>;
  /** A string option's value when not given ('' for --network); others default to undefined, false, []. */
  default?: string;
  /** A resource limit: its key in HostConfig.Resources (cgroups/limits.ts LimitFlags). */
  resource?: keyof LimitFlags;
}

function bool(flags: string, description: string, body: BodyMapping<boolean>): OptionDeclaration<boolean> & { kind: 'boolean' } {
  return { kind: 'boolean', flags, description, body };
}
function str<T extends string = string>(flags: string, description: string, body: BodyMapping<NoInfer<T>>, extra: { resource?: keyof LimitFlags } = {}): OptionDeclaration<T> & { kind: 'string'; optional: T } {
  return { kind: 'string', flags, description, body, ...extra } as OptionDeclaration<T> & { kind: 'string'; optional: T };
}
/** A string option that always has a value (DEFAULT when not given). */
function strWithDefault(flags: string, description: string, defaultValue: string, body: BodyMapping<string>): OptionDeclaration<string> & { kind: 'string'; required: string } {
  return { kind: 'string', flags, description, body, default: defaultValue } as OptionDeclaration<string> & { kind: 'string'; required: string };
}
function list(flags: string, description: string, body: BodyMapping<string[]>): OptionDeclaration<string[]> & { kind: 'list' } {
  return { kind: 'list', flags, description, body };
}

// Body mappings for fields that hold the option's value as is.
function boolAt(path: string): BodyMapping<boolean> {
  return { to: (v, b) => setField(b, path, v), from: (b) => readBool(b, path) || undefined };
}
function strAt(path: string): BodyMapping<string> {
  return { to: (v, b) => setField(b, path, v), from: (b) => readString(b, path) };
}
function listAt(path: string): BodyMapping<string[]> {
  return { to: (v, b) => setField(b, path, v), from: (b) => readStrings(b, path) };
}
/** An integer field (CpuShares, PidsLimit); a value that is no integer is left out (cgroups/limits.ts refuses it at create). */
function intAt(path: string): BodyMapping<string> {
  return {
    to: (v, b) => { if (/^-?\d+$/.test(v.trim())) setField(b, path, Number(v)); },
    from: (b) => { const n = readInt(b, path); return n === undefined ? undefined : String(n); },
  };
}
/** A size in bytes (Memory…): `512m` on the command line, 536870912 in the body; -1 (unlimited) kept as is. */
function bytesAt(path: string): BodyMapping<string> {
  return {
    to: (v, b) => {
      if (v.trim() === '-1') { setField(b, path, -1); return; }
      try { setField(b, path, parseBytes(v, path)); } catch { /* refused by cgroups/limits.ts at create */ }
    },
    from: (b) => { const n = readInt(b, path); return n === undefined ? undefined : String(n); },
  };
}
function notInBody<V>(why: string): BodyMapping<V> {
  return { notInBody: why };
}

/** Docker's HostConfig.RestartPolicy names (docker-run(1) --restart). */
const RESTART_NAMES = ['no', 'always', 'unless-stopped', 'on-failure'];

/** The table. Its order is the order `lodger run --help` lists the flags in. */
export const CONTAINER_OPTIONS = {
  detach: bool('-d,--detach', 'Run in the background and print the container id', {
    // The docker CLI attaches nothing with -d (Config.Attach* false); it decides that itself.
    to: (v, b) => { b.AttachStdout = !v; b.AttachStderr = !v; },
    from: (b) => !(readBool(b, 'AttachStdin') || readBool(b, 'AttachStdout') || readBool(b, 'AttachStderr')) || undefined,
  }),
  attach: list('-a,--attach', 'Attach to STDIN, STDOUT or STDERR (default: all the foreground container has)', notInBody('the docker CLI attaches the streams itself (Config.AttachStdin/Stdout/Stderr follow -d and -i)')),
  rm: bool('--rm', 'Remove the container when it exits', boolAt('HostConfig.AutoRemove')),
  name: str('--name', 'Name the container', { query: 'name' }),
  interactive: bool('-i,--interactive', 'Keep stdin open', {
    to: (v, b, o) => { b.OpenStdin = v; b.AttachStdin = v && !o.detach; b.StdinOnce = v && !o.detach; },
    from: (b) => readBool(b, 'OpenStdin') || undefined,
  }),
  tty: bool('-t,--tty', 'Allocate a pseudo-terminal', boolAt('Tty')),
  env: list('-e,--env', 'Set an environment variable (K=V, or K to copy ours)', {
    to: (v, b) => setField(b, 'Env', v),
    // The docker CLI resolves `-e K` from its own environment; an API service must not hand its own
    // environment to a container, so a bare name from a client is dropped (it would be unset anyway).
    from: (b) => readStrings(b, 'Env').filter((e) => e.includes('=')),
  }),
  envFile: list('--env-file', 'Read environment variables from a file', notInBody('the docker CLI reads the file and sends its lines in Env')),
  workdir: str('-w,--workdir', 'Working directory inside the container', strAt('WorkingDir')),
  user: str('-u,--user', 'User (name|uid[:group|gid])', strAt('User')),
  volumes: list('-v,--volume', 'Bind mount a host path or a volume: SRC|NAME:DST[:ro][:nocopy], or DST for an anonymous volume', {
    // The docker CLI sends `-v /path` (an anonymous volume) in Config.Volumes, the others in HostConfig.Binds.
    to: (v, b) => {
      setField(b, 'HostConfig.Binds', v.filter((x) => x.includes(':')));
      const anon = v.filter((x) => !x.includes(':'));
      if (anon.length) setField(b, 'Volumes', Object.fromEntries(anon.map((x) => [x, {}])));
    },
    from: (b) => {
      const binds = readStrings(b, 'HostConfig.Binds');
      // Compose lists its bind mounts' destinations in Volumes too: only a path nothing else mounts is anonymous.
      const mounts = getField(b, 'HostConfig.Mounts');
      const taken = new Set([...binds.map((x) => x.split(':')[1]), ...(Array.isArray(mounts) ? (mounts as ContainerCreateBody[]).map((m) => readString(m, 'Target')) : [])]);
      return [...binds, ...Object.keys(readObject(b, 'Volumes') ?? {}).filter((v) => !taken.has(v))];
    },
  }),
  mounts: list('--mount', 'Mount: type=bind|volume|tmpfs,src=…,dst=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]', {
    to: (v, b) => setField(b, 'HostConfig.Mounts', v.map(mountBody)),
    from: (b) => {
      const m = getField(b, 'HostConfig.Mounts') ?? [];
      if (!Array.isArray(m)) throw badBody('HostConfig.Mounts', 'a list', m);
      return (m as ContainerCreateBody[]).map(mountFlag);
    },
  }),
  tmpfs: list('--tmpfs', 'Mount a tmpfs: /path[:opts] (size=, mode=, [no]exec, …)', {
    to: (v, b) => setField(b, 'HostConfig.Tmpfs', Object.fromEntries(v.map((x) => { const i = x.indexOf(':'); return i < 0 ? [x, ''] : [x.slice(0, i), x.slice(i + 1)]; }))),
    from: (b) => readStringMap(b, 'HostConfig.Tmpfs').map((kv) => { const i = kv.indexOf('='); return kv.slice(i + 1) ? `${kv.slice(0, i)}:${kv.slice(i + 1)}` : kv.slice(0, i); }),
  }),
  volumesFrom: list('--volumes-from', "Mount another container's volumes and bind mounts: CONTAINER[:ro|rw]", listAt('HostConfig.VolumesFrom')),
  devices: list('--device', 'Add a host device HOST[:CONTAINER][:rwm], or CDI devices VENDOR/CLASS=NAME|all (specs in /etc/cdi, /var/run/cdi)', {
    to: (v, b) => {
      // A host device is an absolute path; anything else is a CDI name (devices/cdi.ts isCdiName checks it at
      // create — not imported here: it loads the YAML parser, which --help and flag parsing need not pay for).
      const cdi = v.filter((d) => !d.startsWith('/'));
      setField(b, 'HostConfig.Devices', v.filter((d) => d.startsWith('/')).map(deviceMapping));
      if (cdi.length) setField(b, 'HostConfig.DeviceRequests', [{ Driver: 'cdi', DeviceIDs: cdi }]);
    },
    from: (b) => {
      const out: string[] = [];
      const devices = getField(b, 'HostConfig.Devices') ?? [];
      if (!Array.isArray(devices)) throw badBody('HostConfig.Devices', 'a list', devices);
      for (const d of devices) {
        const host = readString(d as ContainerCreateBody, 'PathOnHost');
        if (!host) throw badBody('HostConfig.Devices[].PathOnHost', 'a device path', d);
        out.push(`${host}:${readString(d as ContainerCreateBody, 'PathInContainer') ?? host}:${readString(d as ContainerCreateBody, 'CgroupPermissions') ?? 'rwm'}`);
      }
      // Only CDI requests (driver "cdi", as docker 28 sends --device VENDOR/CLASS=NAME) name devices
      // lodger can find; --gpus requests are refused in createBody.ts.
      const requests = getField(b, 'HostConfig.DeviceRequests') ?? [];
      if (!Array.isArray(requests)) throw badBody('HostConfig.DeviceRequests', 'a list', requests);
      for (const r of requests as ContainerCreateBody[]) if (readString(r, 'Driver') === 'cdi') out.push(...readStrings(r, 'DeviceIDs'));
      return out;
    },
  }),
  entrypoint: str('--entrypoint', "Override the image's entrypoint", {
    // docker-run(1): --entrypoint "" resets the image's entrypoint; the docker CLI sends [""] for it.
    to: (v, b) => setField(b, 'Entrypoint', [v]),
    // Only the first word: createBody.ts puts any further words of a list (compose sends lists) before Cmd.
    from: (b) => {
      const v = getField(b, 'Entrypoint');
      if (v === undefined) return undefined;
      return readStrings(b, 'Entrypoint', true)[0] ?? '';
    },
  }),
  init: bool('--init', 'Run an init as PID 1 that forwards signals and reaps zombies', boolAt('HostConfig.Init')),
  readOnly: bool('--read-only', "Mount the container's root filesystem read-only", boolAt('HostConfig.ReadonlyRootfs')),
  hostname: str('--hostname', 'Container host name', strAt('Hostname')),
  network: strWithDefault('--network,--net', 'none, host, slirp4netns[:opts], pasta[:opts], container:NAME, or a network', '', {
    to: (v, b) => setField(b, 'HostConfig.NetworkMode', v || 'default'),
    from: (b) => {
      if (readBool(b, 'NetworkDisabled')) return 'none';
      const mode = readString(b, 'HostConfig.NetworkMode');
      // Compose names the network in NetworkingConfig as well as in NetworkMode; a client may give only the former.
      const endpoints = Object.keys(getField(b, 'NetworkingConfig.EndpointsConfig') ?? {}).filter((n) => n !== 'default');
      if (mode && mode !== 'default') return mode;
      return endpoints.length === 1 ? endpoints[0] : undefined;
    },
  }),
  storageDriver: str('--storage-driver', 'overlay, fuse-overlayfs or vfs', notInBody<string>("lodger's own: the store's driver")),
  userns: str('--userns', 'single: map only your own id; keep-id: your own uid/gid (and name) inside, files you write in bind mounts are yours', strAt('HostConfig.UsernsMode')),
  privileged: bool('--privileged', 'All capabilities of the user namespace, no masked paths', boolAt('HostConfig.Privileged')),
  publish: list('-p,--publish', 'Publish a port [ip:][hostPort:]containerPort[/proto]', {
    to: (v, b) => {
      const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
      const exposed: Record<string, object> = {};
      for (const s of v.flatMap(parsePublish)) {
        const key = `${s.containerPort}/${s.protocol}`;
        const hostPort = s.hostPortRange ? `${s.hostPortRange[0]}-${s.hostPortRange[1]}` : s.hostPort ? String(s.hostPort) : '';
        (bindings[key] ??= []).push({ HostIp: s.hostIp, HostPort: hostPort });
        exposed[key] = {};
      }
      setField(b, 'HostConfig.PortBindings', bindings);
      if (Object.keys(exposed).length) setField(b, 'ExposedPorts', { ...(getField(b, 'ExposedPorts') ?? {}), ...exposed });
    },
    from: (b) => publishSpecs(b),
  }),
  publishAll: bool('-P,--publish-all', 'Publish every exposed port to a random host port', boolAt('HostConfig.PublishAllPorts')),
  dns: list('--dns', 'DNS server', listAt('HostConfig.Dns')),
  dnsSearch: list('--dns-search', 'DNS search domain', listAt('HostConfig.DnsSearch')),
  dnsOption: list('--dns-option', 'DNS resolver option', listAt('HostConfig.DnsOptions')),
  addHost: list('--add-host', 'Add a host:ip line to /etc/hosts', listAt('HostConfig.ExtraHosts')),
  restart: strWithDefault('--restart', 'no, on-failure[:N], always, unless-stopped', 'no', {
    to: (v, b) => {
      const [name, count] = v.split(':');
      setField(b, 'HostConfig.RestartPolicy', { Name: name, MaximumRetryCount: Number(count ?? 0) });
    },
    from: (b) => {
      const name = readString(b, 'HostConfig.RestartPolicy.Name');
      if (!name || name === 'no') return undefined;
      if (!RESTART_NAMES.includes(name)) throw badBody('HostConfig.RestartPolicy.Name', RESTART_NAMES.join(', '), name);
      const count = readInt(b, 'HostConfig.RestartPolicy.MaximumRetryCount');
      return name === 'on-failure' && count ? `${name}:${count}` : name;
    },
  }),
  labels: list('-l,--label', 'Set a label K=V', {
    to: (v, b) => setField(b, 'Labels', labelMap(v)),
    from: (b) => readStringMap(b, 'Labels'),
  }),
  capAdd: list('--cap-add', 'Add a capability', listAt('HostConfig.CapAdd')),
  capDrop: list('--cap-drop', 'Drop a capability', listAt('HostConfig.CapDrop')),
  securityOpt: list('--security-opt', 'no-new-privileges, seccomp=unconfined|FILE, systempaths=unconfined', listAt('HostConfig.SecurityOpt')),
  memory: str('-m,--memory', 'Memory limit (e.g. 512m)', bytesAt('HostConfig.Memory'), { resource: 'memory' }),
  memorySwap: str('--memory-swap', 'Memory plus swap limit, -1 for unlimited', bytesAt('HostConfig.MemorySwap'), { resource: 'memorySwap' }),
  memoryReservation: str('--memory-reservation', 'Memory soft limit', bytesAt('HostConfig.MemoryReservation'), { resource: 'memoryReservation' }),
  cpus: str('--cpus', 'Number of CPUs', {
    // HostConfig.NanoCpus: CPUs in units of 10^-9 (the docker CLI's --cpus 1.5 sends 1500000000).
    to: (v, b) => { const n = Number(v); if (v.trim() && Number.isFinite(n) && n > 0) setField(b, 'HostConfig.NanoCpus', Math.round(n * 1e9)); },
    from: (b) => { const n = readInt(b, 'HostConfig.NanoCpus'); return n === undefined ? undefined : String(n / 1e9); },
  }, { resource: 'cpus' }),
  cpuShares: str('-c,--cpu-shares', 'CPU shares (relative weight)', intAt('HostConfig.CpuShares'), { resource: 'cpuShares' }),
  cpusetCpus: str('--cpuset-cpus', 'CPUs to run on (0-3, 0,1)', strAt('HostConfig.CpusetCpus'), { resource: 'cpusetCpus' }),
  pidsLimit: str('--pids-limit', 'Process limit', intAt('HostConfig.PidsLimit'), { resource: 'pidsLimit' }),
  blkioWeight: str('--blkio-weight', 'Block IO weight (10-1000)', intAt('HostConfig.BlkioWeight'), { resource: 'blkioWeight' }),
  cgroups: str('--cgroups', 'enabled or disabled', notInBody<string>("podman's flag; Docker has no such field")),
  ulimits: list('--ulimit', 'Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, …), at most your own hard limit', {
    to: (v, b) => setField(b, 'HostConfig.Ulimits', v.map((u) => {
      const [name, rest = ''] = u.split('=');
      const [soft, hard = soft] = rest.split(':');
      const n = (x: string) => (x === 'unlimited' ? -1 : Number(x));
      return { Name: name, Soft: n(soft), Hard: n(hard) };
    })),
    from: (b) => {
      const u = getField(b, 'HostConfig.Ulimits') ?? [];
      if (!Array.isArray(u)) throw badBody('HostConfig.Ulimits', 'a list', u);
      return (u as ContainerCreateBody[]).map((x) => `${readString(x, 'Name')}=${readInt(x, 'Soft')}:${readInt(x, 'Hard')}`);
    },
  }),
  sysctls: list('--sysctl', 'Namespaced kernel parameter KEY=VALUE (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)', {
    to: (v, b) => setField(b, 'HostConfig.Sysctls', labelMap(v)),
    from: (b) => readStringMap(b, 'HostConfig.Sysctls'),
  }),
  groupAdd: list('--group-add', 'Additional group (name in the image, or gid)', listAt('HostConfig.GroupAdd')),
  stopSignal: str('--stop-signal', "Signal `stop` sends first (default the image's, else SIGTERM)", strAt('StopSignal')),
  stopTimeout: str('--stop-timeout', 'Seconds `stop` waits before SIGKILL (default 10)', intAt('StopTimeout')),
  shmSize: str('--shm-size', 'Size of /dev/shm (default 64m)', bytesAt('HostConfig.ShmSize')),
  cidfile: str('--cidfile', 'Write the container id to this file (which must not exist)', notInBody<string>('the docker CLI writes the file itself')),
  pid: str('--pid', 'PID namespace: host, container:NAME, or a private one (default)', strAt('HostConfig.PidMode')),
  ipc: str('--ipc', 'IPC namespace: host, private (default), shareable, container:NAME', strAt('HostConfig.IpcMode')),
  uts: str('--uts', 'UTS namespace: host, or a private one (default)', strAt('HostConfig.UTSMode')),
  healthCmd: str('--health-cmd', 'Command to check health (run with /bin/sh -c)', {
    to: (v, b) => setField(b, 'Healthcheck.Test', ['CMD-SHELL', v]),
    // The exec form (CMD) an API client may send becomes the same words through the shell.
    from: (b) => {
      const t = getField(b, 'Healthcheck.Test');
      if (!Array.isArray(t) || t.length < 2 || (t[0] !== 'CMD-SHELL' && t[0] !== 'CMD')) return undefined;
      return t[0] === 'CMD-SHELL' ? String(t[1]) : (t.slice(1) as string[]).map(shellQuote).join(' ');
    },
  }),
  healthInterval: str('--health-interval', 'Time between checks (ms|s|m|h), default 30s', durationAt('Healthcheck.Interval')),
  healthTimeout: str('--health-timeout', 'Longest a check may run, default 30s', durationAt('Healthcheck.Timeout')),
  healthRetries: str('--health-retries', 'Failures in a row before unhealthy, default 3', intAt('Healthcheck.Retries')),
  healthStartPeriod: str('--health-start-period', 'Start-up time whose failures do not count, default 0s', durationAt('Healthcheck.StartPeriod')),
  healthStartInterval: str('--health-start-interval', 'Time between checks during the start period, default 5s', durationAt('Healthcheck.StartInterval')),
  noHealthcheck: bool('--no-healthcheck', "Disable the image's HEALTHCHECK", {
    to: (v, b) => { if (v) setField(b, 'Healthcheck', { Test: ['NONE'] }); },
    from: (b) => { const t = getField(b, 'Healthcheck.Test'); return (Array.isArray(t) && t[0] === 'NONE') || undefined; },
  }),
  logOpts: list('--log-opt', 'Log file options: max-size=SIZE, max-file=N (json-file)', {
    to: (v, b) => { if (v.length) setField(b, 'HostConfig.LogConfig', { Type: 'json-file', Config: labelMap(v) }); },
    from: (b) => readStringMap(b, 'HostConfig.LogConfig.Config'),
  }),
  platform: str('--platform', 'os/arch[/variant] of the image to pull', { query: 'platform' }),
  pull: str<'missing' | 'always' | 'never'>('--pull', 'missing (default), always or never', notInBody('the docker CLI pulls itself when create answers 404')),
} as const;

export type ContainerOptionName = keyof typeof CONTAINER_OPTIONS;
type Decls = typeof CONTAINER_OPTIONS;
type ValueOf<D> = D extends { kind: 'boolean' } ? boolean : D extends { kind: 'list' } ? string[] : D extends { required: infer T } ? T : D extends { optional: infer T } ? T : never;
type OptionalKeys = { [K in keyof Decls]: Decls[K] extends { optional: unknown } ? K : never }[keyof Decls] & string;

/** The declared options as values: booleans, string lists, and strings (undefined when not given). */
export type DeclaredOptions = { [K in Exclude<keyof Decls, OptionalKeys>]: ValueOf<Decls[K]> } & { [K in OptionalKeys]?: ValueOf<Decls[K]> };

/** What `run`/`create` accept, independent of the front door (CLI flags or an API body) that made it. */
export type CreateOptions = DeclaredOptions & {
  image: string;
  /** Arguments after the image: they replace the image's Cmd. */
  command: string[];
};

/** Every declaration with its name, in table order. */
export function declaredOptions(): Array<[ContainerOptionName & string, OptionDeclaration]> {
  return Object.entries(CONTAINER_OPTIONS) as Array<[ContainerOptionName & string, OptionDeclaration]>;
}

/** The value an option has when not given. */
export function optionDefault(d: OptionDeclaration): unknown {
  return d.kind === 'boolean' ? false : d.kind === 'list' ? [] : d.default;
}

export function defaultCreateOptions(image: string, command: string[] = []): CreateOptions {
  const o: Record<string, unknown> = { image, command };
  for (const [name, d] of declaredOptions()) { const v = optionDefault(d); if (v !== undefined) o[name] = v; }
  return o as CreateOptions;
}

/** The resource flags given, keyed as HostConfig.Resources and cgroups/limits.ts LimitFlags have them. */
export function resourceFlags(o: CreateOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, d] of declaredOptions()) {
    const v = o[name];
    if (d.resource && typeof v === 'string') out[d.resource] = v;
  }
  return out;
}

/** `-l K=V` → {K: V}; a bare `-l K` is K with an empty value (docker-run(1)). */
export function labelMap(labels: string[]): Record<string, string> {
  return Object.fromEntries(labels.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
}

/** Docker's `--device HOST[:CONTAINER][:PERMISSIONS]` as HostConfig.Devices has it (checked at create by devices.ts). */
function deviceMapping(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  let [host, inside, perms] = [parts[0], parts[0], 'rwm'];
  if (parts.length === 2) { if (/^[rwm]+$/.test(parts[1])) perms = parts[1]; else inside = parts[1]; }
  if (parts.length >= 3) [host, inside, perms] = parts;
  return { PathOnHost: host, PathInContainer: inside, CgroupPermissions: perms };
}

/**
 * HostConfig.PortBindings ({"80/tcp": [{HostIp, HostPort}]}) as -p values. An empty HostPort asks for a
 * free port (testcontainers sends that); a key without a protocol is tcp, as Docker reads it.
 */
function publishSpecs(b: ContainerCreateBody): string[] {
  const bindings = getField(b, 'HostConfig.PortBindings') ?? {};
  if (typeof bindings !== 'object' || Array.isArray(bindings)) throw badBody('HostConfig.PortBindings', 'an object', bindings);
  const out: string[] = [];
  for (const [key, list] of Object.entries(bindings as Record<string, unknown>)) {
    const port = key.includes('/') ? key : `${key}/tcp`;
    if (list === null) continue;
    if (!Array.isArray(list)) throw badBody(`HostConfig.PortBindings["${key}"]`, 'a list', list);
    for (const pb of list as ContainerCreateBody[]) {
      const ip = readString(pb, 'HostIp') ?? '';
      const hostPort = readString(pb, 'HostPort') ?? '';
      const host = ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${hostPort}:` : hostPort ? `${hostPort}:` : '';
      out.push(host + port);
    }
  }
  return out;
}

/** A Go duration flag (30s) ↔ nanoseconds in the body; a bad value is left out here and refused by health.ts at create. */
function durationAt(path: string): BodyMapping<string> {
  return {
    to: (v, b) => {
      try { setField(b, path, parseDuration(path, v)); } catch { /* refused at create */ }
    },
    from: (b) => { const n = readInt(b, path); return n ? `${n}ns` : undefined; },
  };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** `--mount` as HostConfig.Mounts has it (Docker's mount.Mount), parsed by mounts.ts. */
function mountBody(spec: string): Record<string, unknown> {
  let m: MountSpec;
  try { m = parseMountFlag(spec); } catch { return { Type: 'invalid', Target: spec }; }  // refused again at create, with the reason
  const out: Record<string, unknown> = { Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly };
  if (m.type === 'bind' && m.propagation) out.BindOptions = { Propagation: m.propagation };
  if (m.type === 'volume' && (m.noCopy || m.labels)) out.VolumeOptions = { NoCopy: !!m.noCopy, ...(m.labels ? { Labels: m.labels } : {}) };
  if (m.type === 'tmpfs') {
    const data = Object.fromEntries((m.tmpfsData ?? []).map((d) => d.split('=')));
    out.TmpfsOptions = { ...(data.size ? { SizeBytes: Number(data.size) } : {}), ...(data.mode ? { Mode: parseInt(data.mode, 8) } : {}) };
  }
  return out;
}

/** A HostConfig.Mounts entry from an API client as the --mount value it stands for. */
function mountFlag(m: ContainerCreateBody): string {
  const type = readString(m, 'Type') ?? 'volume';
  const parts = [`type=${type}`];
  const src = readString(m, 'Source');
  if (src) parts.push(`src=${src}`);
  parts.push(`dst=${readString(m, 'Target') ?? ''}`);
  if (readBool(m, 'ReadOnly')) parts.push('readonly');
  const prop = readString(m, 'BindOptions.Propagation');
  if (prop) parts.push(`bind-propagation=${prop}`);
  if (readBool(m, 'VolumeOptions.NoCopy')) parts.push('volume-nocopy');
  for (const kv of readStringMap(m, 'VolumeOptions.Labels')) parts.push(`volume-label=${kv}`);
  const size = readInt(m, 'TmpfsOptions.SizeBytes');
  if (size) parts.push(`tmpfs-size=${size}`);
  const mode = readInt(m, 'TmpfsOptions.Mode');
  if (mode) parts.push(`tmpfs-mode=${mode.toString(8)}`);
  // A comma inside a value must be quoted (mounts.ts reads the value as one CSV record).
  return parts.map((p) => (p.includes(',') || p.includes('"') ? `"${p.replace(/"/g, '""')}"` : p)).join(',');
}
