// Docker's ContainerCreate body ↔ CreateOptions, through the declarations in options.ts; refuses what lodger cannot do.
//
// createOptionsFromDockerBody takes the body as docker CLI, compose and testcontainers send it (the docker
// CLI sends every field, mostly zero values: test/unit/containers/fixtures). Fields lodger has no use for
// and Docker would also accept without effect are ignored; fields that ask for something lodger cannot do
// (UNSUPPORTED) are refused with UNSUPPORTED_OPTION, naming the docker flag, rather than silently dropped.
import { LodgerError } from '../errors';
import { getField, readStrings, readString, type ContainerCreateBody } from './bodyFields';
import { declaredOptions, optionDefault, type CreateOptions } from './options';

export type { ContainerCreateBody } from './bodyFields';

/** The query parameters of POST /containers/create that carry options (`?name=web&platform=linux/amd64`). */
export interface CreateQuery { name?: string; platform?: string }

interface Unsupported {
  /** The body field. */
  path: string;
  /** The docker flag that sets it, for the message. */
  flag: string;
  /** Whether VALUE (never undefined/null) asks for something; Docker's zero values do not. */
  asks: (value: unknown, body: ContainerCreateBody) => boolean;
  hint?: string;
}

const nonEmpty = (v: unknown) => (Array.isArray(v) ? v.length > 0 : typeof v === 'object' ? Object.keys(v as object).length > 0 : v !== '' && v !== 0 && v !== false);
const notIn = (...ok: unknown[]) => (v: unknown) => !ok.includes(v);

/**
 * Body fields lodger cannot honour yet. When an option comes to lodger, declare it in options.ts and
 * delete its line here. Zero values (what the docker CLI sends for a flag not given) always pass.
 */
const UNSUPPORTED: Unsupported[] = [
  { path: 'HostConfig.CgroupnsMode', flag: '--cgroupns', asks: notIn('', 'private') },
  // Every lodger container has a user namespace of its own; `host` (no remapping) cannot be had.
  { path: 'HostConfig.UsernsMode', flag: '--userns', asks: notIn('', 'single', 'keep-id', 'auto'), hint: 'lodger knows --userns=single and --userns=keep-id' },
  { path: 'HostConfig.Cgroup', flag: '--cgroup', asks: nonEmpty },
  { path: 'HostConfig.CgroupParent', flag: '--cgroup-parent', asks: nonEmpty },
  { path: 'HostConfig.VolumeDriver', flag: '--volume-driver', asks: nonEmpty },
  { path: 'HostConfig.Links', flag: '--link', asks: nonEmpty, hint: 'put the containers on one network (lodger network create) and use their names' },
  { path: 'HostConfig.CpuPeriod', flag: '--cpu-period', asks: nonEmpty, hint: 'use --cpus' },
  { path: 'HostConfig.CpuQuota', flag: '--cpu-quota', asks: nonEmpty, hint: 'use --cpus' },
  { path: 'HostConfig.CpuRealtimePeriod', flag: '--cpu-rt-period', asks: nonEmpty },
  { path: 'HostConfig.CpuRealtimeRuntime', flag: '--cpu-rt-runtime', asks: nonEmpty },
  { path: 'HostConfig.CpuCount', flag: '--cpu-count', asks: nonEmpty, hint: 'use --cpus' },
  { path: 'HostConfig.CpuPercent', flag: '--cpu-percent', asks: nonEmpty, hint: 'use --cpus' },
  { path: 'HostConfig.CpusetMems', flag: '--cpuset-mems', asks: nonEmpty },
  { path: 'HostConfig.KernelMemory', flag: '--kernel-memory', asks: nonEmpty },
  { path: 'HostConfig.MemorySwappiness', flag: '--memory-swappiness', asks: notIn(-1) },
  { path: 'HostConfig.OomKillDisable', flag: '--oom-kill-disable', asks: nonEmpty },
  { path: 'HostConfig.OomScoreAdj', flag: '--oom-score-adj', asks: nonEmpty },
  { path: 'HostConfig.BlkioWeightDevice', flag: '--blkio-weight-device', asks: nonEmpty },
  { path: 'HostConfig.BlkioDeviceReadBps', flag: '--device-read-bps', asks: nonEmpty },
  { path: 'HostConfig.BlkioDeviceWriteBps', flag: '--device-write-bps', asks: nonEmpty },
  { path: 'HostConfig.BlkioDeviceReadIOps', flag: '--device-read-iops', asks: nonEmpty },
  { path: 'HostConfig.BlkioDeviceWriteIOps', flag: '--device-write-iops', asks: nonEmpty },
  { path: 'HostConfig.IOMaximumIOps', flag: '--io-maxiops', asks: nonEmpty },
  { path: 'HostConfig.IOMaximumBandwidth', flag: '--io-maxbandwidth', asks: nonEmpty },
  { path: 'HostConfig.DeviceCgroupRules', flag: '--device-cgroup-rule', asks: nonEmpty },
  { path: 'HostConfig.StorageOpt', flag: '--storage-opt', asks: nonEmpty },
  { path: 'HostConfig.Runtime', flag: '--runtime', asks: notIn('', 'runc') },
  { path: 'HostConfig.Isolation', flag: '--isolation', asks: notIn('', 'default') },
  { path: 'HostConfig.MaskedPaths', flag: 'MaskedPaths', asks: nonEmpty, hint: 'use --security-opt systempaths=unconfined or --privileged to unmask' },
  { path: 'HostConfig.ReadonlyPaths', flag: 'ReadonlyPaths', asks: nonEmpty },
  // Containers' output goes to lodger's own log file, which `logs` reads (logs.ts).
  { path: 'HostConfig.LogConfig.Type', flag: '--log-driver', asks: notIn('', 'json-file', 'local') },
  { path: 'Domainname', flag: '--domainname', asks: nonEmpty },
  { path: 'MacAddress', flag: '--mac-address', asks: nonEmpty },
];

function refuse(flag: string, path: string, value: unknown, hint?: string): LodgerError {
  return new LodgerError('UNSUPPORTED_OPTION', `container create: lodger does not support ${flag} (${path}=${JSON.stringify(value)})${hint ? ` — ${hint}` : ''}`);
}

/** Refuses what the body asks for that lodger cannot do (UNSUPPORTED, --gpus, several networks, static addresses). */
function checkSupported(body: ContainerCreateBody): void {
  for (const u of UNSUPPORTED) {
    const v = getField(body, u.path);
    if (v !== undefined && u.asks(v, body)) throw refuse(u.flag, u.path, v, u.hint);
  }
  const requests = getField(body, 'HostConfig.DeviceRequests');
  for (const r of Array.isArray(requests) ? requests as ContainerCreateBody[] : []) {
    if (readString(r, 'Driver') !== 'cdi') throw refuse('--gpus', 'HostConfig.DeviceRequests', r, 'name the devices with CDI instead: --device nvidia.com/gpu=all');
  }
  const endpoints = getField(body, 'NetworkingConfig.EndpointsConfig') ?? {};
  const names = Object.keys(endpoints);
  if (names.length > 1) throw refuse('more than one network', 'NetworkingConfig.EndpointsConfig', names, 'connect the container to one network');
  const mode = readString(body, 'HostConfig.NetworkMode');
  if (names.length === 1 && mode && mode !== 'default' && names[0] !== 'default' && names[0] !== mode) {
    throw refuse('a network other than NetworkMode\'s', 'NetworkingConfig.EndpointsConfig', names, `HostConfig.NetworkMode is ${mode}`);
  }
  for (const name of names) {
    const ipam = getField(body, `NetworkingConfig.EndpointsConfig.${name}.IPAMConfig`);
    if (ipam !== undefined && nonEmpty(ipam) && Object.values(ipam as object).some(nonEmpty)) {
      throw refuse('--ip/--ip6', `NetworkingConfig.EndpointsConfig.${name}.IPAMConfig`, ipam, 'lodger chooses the address');
    }
  }
}

/**
 * The typed create input for a Docker ContainerCreate BODY (and the query's name and platform), as the
 * docker CLI would have made it from its flags. Throws BAD_CREATE_BODY for a malformed body and
 * UNSUPPORTED_OPTION for what lodger cannot do. Checks that need the host (does the bind source exist?)
 * are left to createContainer, as for the CLI.
 */
export function createOptionsFromDockerBody(body: unknown, query: CreateQuery = {}): CreateOptions {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new LodgerError('BAD_CREATE_BODY', 'container create: the body must be a JSON object (Docker\'s ContainerCreate config)');
  const b = body as ContainerCreateBody;
  const image = readString(b, 'Image');
  if (!image) throw new LodgerError('BAD_CREATE_BODY', 'container create: the body names no Image');
  checkSupported(b);
  const o: Record<string, unknown> = { image, command: readStrings(b, 'Cmd', true) };
  for (const [name, d] of declaredOptions()) {
    let v: unknown;
    if (d.body.query) v = (query as Record<string, string | undefined>)[d.body.query] || undefined;
    else if (d.body.from) v = d.body.from(b);
    o[name] = v ?? optionDefault(d);
    if (o[name] === undefined) delete o[name];
  }
  // lodger's --entrypoint is one word, Docker's a list (compose sends ["sh", "-c"]): the further words
  // go before Cmd, so the process's argv is Docker's (Entrypoint ++ Cmd).
  const entrypoint = getField(b, 'Entrypoint') === undefined ? [] : readStrings(b, 'Entrypoint', true);
  if (entrypoint.length > 1) o.command = [...entrypoint.slice(1), ...(o.command as string[])];
  return o as CreateOptions;
}

/**
 * The ContainerCreate body the docker CLI would send for O (Config fields at the top level, HostConfig,
 * NetworkingConfig), built from the declarations; create.ts fills the stored record from it.
 * Options with no place in the body (notInBody, query) are not in it.
 */
export function dockerBodyFromCreateOptions(o: CreateOptions): ContainerCreateBody {
  const body: ContainerCreateBody = { Image: o.image, Cmd: o.command.length ? [...o.command] : null, HostConfig: {} };
  for (const [name, d] of declaredOptions()) {
    const v = o[name];
    if (v !== undefined && d.body.to) d.body.to(v, body, o);
  }
  return body;
}
