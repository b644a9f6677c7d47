// Docker's ContainerCreate body (Config, HostConfig, NetworkingConfig) mapped onto the engine's create options.
// TODO(#13): once each container option declares its Docker body field, this table comes from those declarations.
import { defaultCreateOptions, type CreateOptions } from '../../containers/options';
import { badRequest } from '../httpError';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function strings(v: unknown, field: string, oneString = false): string[] {
  if (v === undefined || v === null) return [];
  // Cmd and Entrypoint are Docker's StrSlice: one string stands for a list of one.
  if (oneString && typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw badRequest(`invalid ${field}: expected a list of strings`);
  return v as string[];
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`invalid ${field}: expected a string`);
  return v;
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badRequest(`invalid ${field}: expected true or false`);
  return v;
}

/** Docker's container names (moby daemon/names: validContainerNamePattern). */
export const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Resource fields: Docker's units (bytes, nano-CPUs) in the strings the CLI's flags take. */
function resources(hc: Obj): Record<string, string> {
  const r: Record<string, string> = {};
  const n = (k: string) => (typeof hc[k] === 'number' && (hc[k] as number) > 0 ? (hc[k] as number) : undefined);
  if (n('Memory')) r.memory = String(n('Memory'));
  if (n('MemorySwap')) r.memorySwap = String(n('MemorySwap'));
  if (n('MemoryReservation')) r.memoryReservation = String(n('MemoryReservation'));
  if (n('NanoCpus')) r.cpus = String(n('NanoCpus')! / 1e9);
  if (n('CpuShares')) r.cpuShares = String(n('CpuShares'));
  if (typeof hc.CpusetCpus === 'string' && hc.CpusetCpus) r.cpusetCpus = hc.CpusetCpus;
  if (n('PidsLimit')) r.pidsLimit = String(n('PidsLimit'));
  if (n('BlkioWeight')) r.blkioWeight = String(n('BlkioWeight'));
  return r;
}

/** HostConfig.PortBindings {"80/tcp": [{HostIp, HostPort}]} as -p specs; an empty HostPort is any free port. */
function publishSpecs(pb: unknown): string[] {
  if (pb === undefined || pb === null) return [];
  if (!isObj(pb)) throw badRequest('invalid HostConfig.PortBindings: expected an object');
  const out: string[] = [];
  for (const [port, binds] of Object.entries(pb)) {
    if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) throw badRequest(`invalid HostConfig.PortBindings key ${port}: expected PORT[/PROTO]`);
    const list = binds === null ? [{}] : binds;
    if (!Array.isArray(list)) throw badRequest(`invalid HostConfig.PortBindings[${port}]: expected a list`);
    for (const b of (list.length ? list : [{}]) as Obj[]) {
      const ip = typeof b.HostIp === 'string' ? b.HostIp : '';
      // An empty HostPort or "0" is any free port (Testcontainers sends both forms).
      let hp = typeof b.HostPort === 'string' ? b.HostPort : b.HostPort === undefined || b.HostPort === null ? '' : String(b.HostPort);
      if (hp === '0') hp = '';
      out.push(ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${hp}:${port}` : hp ? `${hp}:${port}` : port);
    }
  }
  return out;
}

/** NetworkingConfig.EndpointsConfig[network].Aliases for the container's network (Compose: the service name). */
export function networkAliases(body: Obj, network: string): string[] {
  const nc = isObj(body.NetworkingConfig) ? body.NetworkingConfig : undefined;
  const eps = nc && isObj(nc.EndpointsConfig) ? nc.EndpointsConfig : {};
  const ep = eps[network];
  if (!isObj(ep) || ep.Aliases === undefined || ep.Aliases === null) return [];
  return strings(ep.Aliases, `NetworkingConfig.EndpointsConfig.${network}.Aliases`).filter((a) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a));
}

/** The engine's create options from a ContainerCreate body and the ?name= query. */
export function createOptionsFromBody(name: string | undefined, body: Obj): CreateOptions {
  const cfg = body;  // Config's fields sit at the top level of the body
  const hc = isObj(body.HostConfig) ? body.HostConfig : {};
  if (body.HostConfig !== undefined && body.HostConfig !== null && !isObj(body.HostConfig)) throw badRequest('invalid HostConfig: expected an object');
  const image = str(cfg.Image, 'Image');
  if (!image) throw badRequest('config error: no image given (Image is empty)');
  if (name !== undefined && !CONTAINER_NAME.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const o = defaultCreateOptions(image, strings(cfg.Cmd, 'Cmd', true));
  const entry = strings(cfg.Entrypoint, 'Entrypoint', true);
  if (entry.length) {
    // The engine's entrypoint is one word (as --entrypoint); the rest of a longer one leads the command.
    o.entrypoint = entry[0];
    o.command = [...entry.slice(1), ...o.command];
  } else if (Array.isArray(cfg.Entrypoint) && cfg.Entrypoint.length === 0) {
    o.entrypoint = '';
  }
  o.name = name?.replace(/^\//, '');
  o.env = strings(cfg.Env, 'Env');
  o.workdir = str(cfg.WorkingDir, 'WorkingDir');
  o.user = str(cfg.User, 'User');
  o.hostname = str(cfg.Hostname, 'Hostname');
  o.tty = bool(cfg.Tty, 'Tty');
  o.interactive = bool(cfg.OpenStdin, 'OpenStdin');
  if (cfg.Labels !== undefined && cfg.Labels !== null) {
    if (!isObj(cfg.Labels)) throw badRequest('invalid Labels: expected an object of strings');
    o.labels = Object.entries(cfg.Labels).map(([k, v]) => `${k}=${String(v)}`);
  }
  // Exposed ports the image does not declare are published by -P only; an explicit binding publishes itself.
  o.volumes = strings(hc.Binds, 'HostConfig.Binds');
  o.rm = bool(hc.AutoRemove, 'HostConfig.AutoRemove');
  o.detach = true;
  o.privileged = bool(hc.Privileged, 'HostConfig.Privileged');
  o.readOnly = bool(hc.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs');
  o.init = hc.Init === true;
  o.publish = publishSpecs(hc.PortBindings);
  o.publishAll = bool(hc.PublishAllPorts, 'HostConfig.PublishAllPorts');
  o.dns = strings(hc.Dns, 'HostConfig.Dns');
  o.dnsSearch = strings(hc.DnsSearch, 'HostConfig.DnsSearch');
  o.dnsOption = strings(hc.DnsOptions, 'HostConfig.DnsOptions');
  o.addHost = strings(hc.ExtraHosts, 'HostConfig.ExtraHosts');
  o.capAdd = strings(hc.CapAdd, 'HostConfig.CapAdd');
  o.capDrop = strings(hc.CapDrop, 'HostConfig.CapDrop');
  o.securityOpt = strings(hc.SecurityOpt, 'HostConfig.SecurityOpt');
  o.resources = resources(hc);
  const userns = str(hc.UsernsMode, 'HostConfig.UsernsMode');
  if (userns) o.userns = userns;
  const rp = isObj(hc.RestartPolicy) ? hc.RestartPolicy : undefined;
  if (rp && typeof rp.Name === 'string' && rp.Name && rp.Name !== 'no') {
    o.restart = rp.Name === 'on-failure' && typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0 ? `on-failure:${rp.MaximumRetryCount}` : rp.Name;
  }
  // Docker's "default" and "bridge" are the engine's default network; a user network is named as is.
  const mode = str(hc.NetworkMode, 'HostConfig.NetworkMode');
  o.network = !mode || mode === 'default' || mode === 'bridge' ? '' : mode;
  const nc = isObj(body.NetworkingConfig) ? body.NetworkingConfig : undefined;
  const eps = nc && isObj(nc.EndpointsConfig) ? Object.keys(nc.EndpointsConfig) : [];
  if (!o.network && eps.length === 1 && eps[0] !== 'bridge' && eps[0] !== 'default') o.network = eps[0];
  if (cfg.StopSignal !== undefined) str(cfg.StopSignal, 'StopSignal');
  return o;
}
