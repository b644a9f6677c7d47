// What `run`/`create` accept, independent of the CLI that parses it.

export interface CreateOptions {
  image: string;
  command: string[];
  entrypoint?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  volumes: string[];
  /** --mount, --tmpfs, --volumes-from (mounts.ts). */
  mounts?: string[];
  tmpfs?: string[];
  volumesFrom?: string[];
  /** --device: host device paths and CDI names (devices.ts). */
  devices?: string[];
  rm: boolean;
  detach: boolean;
  name?: string;
  interactive: boolean;
  tty: boolean;
  init: boolean;
  readOnly: boolean;
  hostname?: string;
  network: string;
  storageDriver?: string;
  userns?: string;
  privileged: boolean;
  publish: string[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  restart?: string;
  labels: string[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  resources: Record<string, string>;
  cgroups?: string;
  platform?: string;
  /** Process and namespace flags (processFlags.ts). */
  ulimits?: string[];
  sysctls?: string[];
  groupAdd?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  shmSize?: string;
  cidfile?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  /** --health-cmd, --health-interval, … and --no-healthcheck (health.ts). */
  health?: import('./health').HealthFlags;
  pull?: 'missing' | 'always' | 'never';
}

export function defaultCreateOptions(image: string, command: string[] = []): CreateOptions {
  return {
    image, command, env: [], envFile: [], volumes: [], rm: false, detach: false, interactive: false, tty: false, init: false,
    readOnly: false, network: '', privileged: false, publish: [], publishAll: false, dns: [], dnsSearch: [], dnsOption: [],
    addHost: [], labels: [], capAdd: [], capDrop: [], securityOpt: [], resources: {},
  };
}
