// Network modes: parsing `--network` values, probing the installed userspace stacks, choosing the default one.
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LodgerError } from '../errors';
import { parseIPv4, parseIPv4Cidr, isIPv6 } from './addr';

/** Options of `--network slirp4netns:…`, named as podman names them (podman-run(1), --network). */
export interface SlirpOptions {
  /** Tap MTU; slirp4netns(1) allows up to 65521, podman and we default to 65520. */
  mtu: number;
  /** Let the container reach the host's 127.0.0.1 through the gateway address (10.0.2.2). */
  allowHostLoopback: boolean;
  /** The virtual network, `--cidr` of slirp4netns(1); prefix 1–25 because the guest is network+100. */
  cidr: string | null;
  enableIpv6: boolean;
  /** Only slirp4netns's own API forwarding exists here; `rootlesskit` is refused at parse time. */
  portHandler: 'slirp4netns';
  /** IPv4 address or interface name outbound connections bind to (`--outbound-addr`). */
  outboundAddr: string | null;
  outboundAddr6: string | null;
}

export type NetworkMode =
  /** A private network namespace with only `lo`. */
  | { kind: 'none' }
  /** The host's network namespace: nothing to create or attach. */
  | { kind: 'host' }
  /** No value given (or `bridge`/`default`/`private`): a private namespace on the default backend. */
  | { kind: 'default' }
  | { kind: 'slirp4netns'; options: SlirpOptions }
  /** `args` are extra pasta(1) arguments; `mapGateway` is podman's `--map-gw` pseudo-option. */
  | { kind: 'pasta'; args: string[]; mapGateway: boolean }
  | { kind: 'container'; target: string }
  | { kind: 'user'; name: string };

export const DEFAULT_SLIRP_OPTIONS: Readonly<SlirpOptions> = Object.freeze({
  mtu: 65520,
  allowHostLoopback: false,
  cidr: null,
  enableIpv6: false,
  portHandler: 'slirp4netns' as const,
  outboundAddr: null,
  outboundAddr6: null,
});

/** Names that are modes, so no user network may take them (docker and podman reserve the same). */
export const RESERVED_NETWORK_NAMES = ['none', 'host', 'bridge', 'default', 'private', 'slirp4netns', 'pasta', 'container'];

/** Docker's network-name rule: starts with an alphanumeric, then alphanumerics, `_`, `.`, `-`. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function isValidNetworkName(name: string): boolean {
  return NETWORK_NAME.test(name) && !RESERVED_NETWORK_NAMES.includes(name);
}

/** Parses one `--network` value (undefined when the flag was not given). */
export function parseNetworkMode(value: string | undefined): NetworkMode {
  if (value === undefined || value === '' || value === 'bridge' || value === 'default' || value === 'private') {
    return { kind: 'default' };
  }
  if (value === 'none' || value === 'host') return { kind: value };
  const colon = value.indexOf(':');
  const head = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? '' : value.slice(colon + 1);
  switch (head) {
    case 'slirp4netns':
      return { kind: 'slirp4netns', options: parseSlirpOptions(rest) };
    case 'pasta':
      return parsePastaMode(rest);
    case 'container':
      if (!rest) {
        throw new LodgerError('NETWORK_MODE_INVALID', `parse --network ${value}: container: needs a container name or id — use --network container:NAME`);
      }
      return { kind: 'container', target: rest };
    default:
      break;
  }
  if (!NETWORK_NAME.test(value)) {
    throw new LodgerError(
      'NETWORK_MODE_INVALID',
      `parse --network ${value}: not a mode (none, host, slirp4netns[:opts], pasta[:args], container:NAME) nor a valid network name — network names use letters, digits, '_', '.', '-'`,
    );
  }
  return { kind: 'user', name: value };
}

function parseBool(option: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option ${option}=${value}: expected true or false`);
}

/** Parses `mtu=…,allow_host_loopback=…,cidr=…,enable_ipv6=…,port_handler=…,outbound_addr=…`. */
export function parseSlirpOptions(text: string): SlirpOptions {
  const options: SlirpOptions = { ...DEFAULT_SLIRP_OPTIONS };
  if (!text) return options;
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option "${item}": expected name=value, e.g. slirp4netns:allow_host_loopback=true`);
    }
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    switch (name) {
      case 'mtu': {
        const mtu = /^\d+$/.test(value) ? Number(value) : NaN;
        // slirp4netns(1): "specify MTU (default=1500, max=65521)"; below 68 IPv4 itself breaks.
        if (!(mtu >= 68 && mtu <= 65521)) {
          throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option mtu=${value}: must be a number from 68 to 65521`);
        }
        options.mtu = mtu;
        break;
      }
      case 'allow_host_loopback':
        options.allowHostLoopback = parseBool(name, value);
        break;
      case 'enable_ipv6':
        options.enableIpv6 = parseBool(name, value);
        break;
      case 'cidr': {
        const cidr = parseIPv4Cidr(value);
        // slirp4netns needs room for the guest at network+100, so prefixes longer than /25 are refused by it.
        if (!cidr || cidr.prefix < 1 || cidr.prefix > 25) {
          throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option cidr=${value}: expected an IPv4 network with a prefix from /1 to /25, e.g. 10.0.2.0/24`);
        }
        options.cidr = `${cidr.network}/${cidr.prefix}`;
        break;
      }
      case 'port_handler':
        if (value === 'rootlesskit') {
          throw new LodgerError('NETWORK_OPTION_INVALID', 'parse --network slirp4netns option port_handler=rootlesskit: lodger forwards ports through the slirp4netns API only — drop the option or use port_handler=slirp4netns');
        }
        if (value !== 'slirp4netns') {
          throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option port_handler=${value}: expected slirp4netns`);
        }
        break;
      case 'outbound_addr':
        if (!value || isIPv6(value)) {
          throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option outbound_addr=${value}: expected an IPv4 address or an interface name (use outbound_addr6 for IPv6)`);
        }
        options.outboundAddr = value;
        break;
      case 'outbound_addr6':
        if (!value || parseIPv4(value) !== null) {
          throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network slirp4netns option outbound_addr6=${value}: expected an IPv6 address or an interface name`);
        }
        options.outboundAddr6 = value;
        break;
      default:
        throw new LodgerError(
          'NETWORK_OPTION_INVALID',
          `parse --network slirp4netns option ${name}: unknown — known options are mtu, allow_host_loopback, cidr, enable_ipv6, port_handler, outbound_addr, outbound_addr6`,
        );
    }
  }
  if (options.outboundAddr6 && !options.enableIpv6) {
    throw new LodgerError('NETWORK_OPTION_INVALID', 'parse --network slirp4netns option outbound_addr6: needs enable_ipv6=true');
  }
  return options;
}

/**
 * pasta(1) options lodger itself sets to tie pasta to the container; letting the user override them would
 * detach the network from the container's lifetime.
 */
const PASTA_MANAGED = ['--netns', '--userns', '--netns-only', '--no-netns-quit', '-P', '--pid', '-f', '--foreground', '-l', '--log-file'];

/** Parses `pasta[:arg,arg,…]`: comma-separated pasta(1) arguments, as podman splits them. */
function parsePastaMode(text: string): NetworkMode {
  const args = text ? text.split(',') : [];
  let mapGateway = false;
  const out: string[] = [];
  for (const arg of args) {
    // podman's pseudo-option: pasta maps the gateway to the host unless --no-map-gw, which is our default.
    if (arg === '--map-gw') {
      mapGateway = true;
      continue;
    }
    const flag = arg.startsWith('--') ? arg.split('=')[0] : arg;
    if (PASTA_MANAGED.includes(flag)) {
      throw new LodgerError('NETWORK_OPTION_INVALID', `parse --network pasta option ${arg}: lodger sets it to tie pasta to the container — remove it`);
    }
    if (arg === '--no-map-gw') continue; // already our default
    out.push(arg);
  }
  return { kind: 'pasta', args: out, mapGateway };
}

/** What `slirp4netns --help`/`--version` say the installed binary can do. */
export interface SlirpInfo {
  path: string;
  version: string | null;
  libslirp: string | null;
  /** `--enable-sandbox`: own mount namespace, capabilities dropped. */
  sandbox: boolean;
  /** `--enable-seccomp`: syscall filter (needs libseccomp at build time). */
  seccomp: boolean;
  disableHostLoopback: boolean;
  apiSocket: boolean;
  cidr: boolean;
  netnsType: boolean;
  userNsPath: boolean;
  outboundAddr: boolean;
  disableDns: boolean;
  exitFd: boolean;
  readyFd: boolean;
}

/** What `pasta --help`/`--version` say the installed binary can do. */
export interface PastaInfo {
  path: string;
  /** Debian's 2023 builds print "pasta unknown version"; null then. */
  version: string | null;
  configNet: boolean;
  dnsForward: boolean;
  noMapGw: boolean;
  /** `-T`/`-U`: forwarding from the namespace to the host's loopback, on by default ("auto"). */
  nsPorts: boolean;
  /** `--no-netns-quit` exists, so pasta quits once a filesystem-bound netns is deleted. */
  netnsQuit: boolean;
  /** Newer pastas: `--map-host-loopback`/`--map-guest-addr`. */
  mapHostLoopback: boolean;
  mapGuestAddr: boolean;
}

export interface Backends {
  slirp4netns: SlirpInfo | null;
  pasta: PastaInfo | null;
}

/** Finds an executable by name on PATH (no shell). */
export function findExecutable(name: string, path: string = process.env.PATH || '/usr/local/bin:/usr/bin:/bin'): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here: keep looking along PATH
    }
  }
  return null;
}

/** An unprivileged user's PATH often lacks the sbin directories where ip(8) and nft(8) live. */
const SYSTEM_TOOL_PATH = `${process.env.PATH || '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin`;

/** Finds a system tool (ip, nft, nsenter, unshare) on PATH and the sbin directories. */
export function findSystemTool(name: string): string | null {
  return findExecutable(name, SYSTEM_TOOL_PATH);
}

/** Runs a probe command and returns stdout+stderr, or null when it could not run at all. */
function probe(file: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const text = `${stdout || ''}\n${stderr || ''}`;
      // --help of some versions exits non-zero; only "could not run" (no output at all) counts as failure.
      if (err && !stdout && !stderr) resolve(null);
      else resolve(text);
    });
  });
}

export function parseSlirpProbe(path: string, help: string, version: string): SlirpInfo {
  const has = (flag: string): boolean => help.includes(flag);
  const v = /slirp4netns version (\S+)/.exec(version);
  const lib = /libslirp: (\S+)/.exec(version);
  return {
    path,
    version: v ? v[1] : null,
    libslirp: lib ? lib[1] : null,
    sandbox: has('--enable-sandbox'),
    // The flag is always listed; without libseccomp --version has no "libseccomp:" line and the flag fails.
    seccomp: has('--enable-seccomp') && /libseccomp: \S+/.test(version),
    disableHostLoopback: has('--disable-host-loopback'),
    apiSocket: has('--api-socket'),
    cidr: has('--cidr'),
    netnsType: has('--netns-type'),
    userNsPath: has('--userns-path'),
    outboundAddr: has('--outbound-addr'),
    disableDns: has('--disable-dns'),
    exitFd: has('--exit-fd'),
    readyFd: has('--ready-fd'),
  };
}

export function parsePastaProbe(path: string, help: string, version: string): PastaInfo {
  // Without /dev/log, old pastas interleave "Failed to send N bytes to syslog" with the text.
  const clean = help.split('\n').filter((l) => !l.startsWith('Failed to send')).join('\n');
  const has = (flag: string): boolean => clean.includes(flag);
  const v = /^pasta (\S+)/m.exec(version);
  return {
    path,
    version: v && v[1] !== 'unknown' ? v[1] : null,
    configNet: has('--config-net'),
    dnsForward: has('--dns-forward'),
    noMapGw: has('--no-map-gw'),
    nsPorts: has('--tcp-ns'),
    netnsQuit: has('--no-netns-quit'),
    mapHostLoopback: has('--map-host-loopback'),
    mapGuestAddr: has('--map-guest-addr'),
  };
}

let cachedBackends: Promise<Backends> | null = null;

/**
 * Which userspace network stacks are installed and what they support (about 10 ms: four short
 * probes, run in parallel, cached for the life of the process).
 */
export function detectBackends(options: { path?: string; refresh?: boolean } = {}): Promise<Backends> {
  if (cachedBackends && !options.refresh && options.path === undefined) return cachedBackends;
  const run = async (): Promise<Backends> => {
    const slirpPath = findExecutable('slirp4netns', options.path);
    const pastaPath = findExecutable('pasta', options.path);
    const [sHelp, sVersion, pHelp, pVersion] = await Promise.all([
      slirpPath ? probe(slirpPath, ['--help']) : null,
      slirpPath ? probe(slirpPath, ['--version']) : null,
      pastaPath ? probe(pastaPath, ['--help']) : null,
      pastaPath ? probe(pastaPath, ['--version']) : null,
    ]);
    return {
      slirp4netns: slirpPath && sHelp !== null ? parseSlirpProbe(slirpPath, sHelp, sVersion || '') : null,
      pasta: pastaPath && pHelp !== null ? parsePastaProbe(pastaPath, pHelp, pVersion || '') : null,
    };
  };
  const result = run();
  if (options.path === undefined) cachedBackends = result;
  return result;
}

export type BackendName = 'slirp4netns' | 'pasta';

/**
 * The backend for `--network` left unset. A container that publishes ports gets pasta when installed,
 * one that publishes none slirp4netns; each falls back to the other. bench/container-cost.sh and
 * bench/network.sh measured (2 shared vCPUs; 20 detached containers; iperf3 3 s, three runs):
 * - memory, for as long as the container runs (RSS of its monitor and backend): pasta (Debian 12's
 *   2023-03-09 build) fills its static frame buffers at start and holds ~29 MiB of them (30.6 MiB with
 *   the monitor; `-4 --no-icmp` still 18.8), slirp4netns 3.3 (4.4 with the monitor);
 * - a published port, host→container: pasta splices the host's connection into the namespace at
 *   8.9 Gbit/s [7.5–12.3], slirp4netns runs it through libslirp's TCP stack at 4.1 [3.6–5.2] — and
 *   pasta keeps clients' source addresses, which slirp4netns shows as 10.0.2.2.
 * So the ~26 MiB are paid where they buy something. `preferred` (configuration) overrides.
 */
export function defaultBackend(backends: Backends, preferred?: BackendName | null, publishesPorts = false): BackendName {
  if (preferred) {
    if (!backends[preferred]) {
      throw new LodgerError(
        'NETWORK_BACKEND_MISSING',
        `choose network backend ${preferred} (set in configuration): it is not installed — install ${preferred === 'pasta' ? 'passt' : 'slirp4netns'} or change the setting`,
      );
    }
    return preferred;
  }
  if (publishesPorts && backends.pasta) return 'pasta';
  if (backends.slirp4netns) return 'slirp4netns';
  if (backends.pasta) return 'pasta';
  throw new LodgerError(
    'NETWORK_BACKEND_MISSING',
    'choose a network backend: neither pasta nor slirp4netns is installed — install passt (pasta) or slirp4netns, or run with --network none or --network host',
  );
}

/** Resolves `{kind:'default'}` to the backend's own mode with default options. */
export function resolveDefaultMode(mode: NetworkMode, backend: BackendName): NetworkMode {
  if (mode.kind !== 'default') return mode;
  return backend === 'pasta'
    ? { kind: 'pasta', args: [], mapGateway: false }
    : { kind: 'slirp4netns', options: { ...DEFAULT_SLIRP_OPTIONS } };
}
