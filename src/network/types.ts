// Shapes the network modules share: an attached network, what a container record keeps of it, a user network's forwarded ports.
import type { PortMapping } from './ports';
import type { ProcessIdentity } from './procs';

export interface UserNetworkAttach {
  /** `$root` of the store: network records live in `$root/networks/`. */
  root: string;
  /** `$runtime` (per user): the infra namespace's state lives in `$runtime/networks/`. */
  runtime: string;
  containerId: string;
  containerName: string;
  aliases?: string[];
  /** `--ip`: a fixed address inside the network's subnet. */
  ip?: string | null;
  /** How to start lodger's DNS responder (e.g. [process.execPath, '/…/dist/lodger.js', '__dns-responder']). */
  responderCommand?: string[] | null;
}

/** A host port a user network's slirp4netns forwards, with the nftables rule that sends it on to the container. */
export interface PublishedPort {
  mapping: PortMapping;
  slirpId: number;
  nftHandle: number;
}

/** What to store in the container record so another lodger process can stop the network (JSON-safe). */
export type NetworkState =
  | { backend: 'none' | 'host' | 'container' }
  | { backend: 'slirp4netns'; process: ProcessIdentity; apiSocket: string; logFile: string }
  | { backend: 'pasta'; process: ProcessIdentity; watchdog: ProcessIdentity | null; netnsLink: string; logFile: string }
  | { backend: 'user'; network: string; root: string; runtime: string; containerId: string; forwards: PublishedPort[]; ns?: string };

export interface AttachedNetwork {
  backend: 'none' | 'host' | 'container' | 'slirp4netns' | 'pasta' | 'user';
  /** The network process (slirp4netns, pasta; a user network's shared slirp4netns), or null when none runs. */
  pid: number | null;
  /** The container's IPv4 address, gateway and prefix on its network (null for none/host/container). */
  ip: string | null;
  prefix: number | null;
  gateway: string | null;
  /** Resolver addresses inside the container that forward to the host's resolvers (for resolv.conf). */
  dns: string[];
  /** Only `dns` may be used (a user network's responder must answer container names). */
  dnsExclusive: boolean;
  /** `--add-host NAME:host-gateway`: the address at which the container reaches the host, or null. */
  hostGateway: string | null;
  ipv6: boolean;
  /** The published ports, as forwarded. */
  ports: PortMapping[];
  /** Paths the container monitor should delete when the container exits (see monitorUnlinksOnExit). */
  unlinkOnExit: string[];
  /** Things the user should hear about (e.g. ports ignored with --network host). */
  warnings: string[];
  state: NetworkState;
  stop(): Promise<void>;
}
