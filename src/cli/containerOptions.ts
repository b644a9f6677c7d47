// The flags `run` and `create` share, as Docker spells them, and the CreateOptions they make.
import { Option } from 'clipanion';
import type { CreateOptions } from '../containers/options';
import { LodgerCommand } from './base';

/** The flags `run` and `create` share, as Docker spells them. */
export abstract class ContainerOptionsCommand extends LodgerCommand {
  detach = Option.Boolean('-d,--detach', false, { description: 'Run in the background and print the container id' });
  rm = Option.Boolean('--rm', false, { description: 'Remove the container when it exits' });
  name = Option.String('--name', { description: 'Name the container' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin open' });
  tty = Option.Boolean('-t,--tty', false, { description: 'Allocate a pseudo-terminal' });
  env = Option.Array('-e,--env', [], { description: 'Set an environment variable (K=V, or K to copy ours)' });
  envFile = Option.Array('--env-file', [], { description: 'Read environment variables from a file' });
  workdir = Option.String('-w,--workdir', { description: 'Working directory inside the container' });
  user = Option.String('-u,--user', { description: 'User (name|uid[:group|gid])' });
  volume = Option.Array('-v,--volume', [], { description: 'Bind mount a host path or a volume: SRC|NAME:DST[:ro][:nocopy], or DST for an anonymous volume' });
  mount = Option.Array('--mount', [], { description: 'type=bind|volume|tmpfs,src=…,dst=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]' });
  tmpfs = Option.Array('--tmpfs', [], { description: 'Mount a tmpfs: /path[:opts] (size=, mode=, [no]exec, …)' });
  volumesFrom = Option.Array('--volumes-from', [], { description: "Mount another container's volumes and bind mounts: CONTAINER[:ro|rw]" });
  device = Option.Array('--device', [], { description: 'Add a host device HOST[:CONTAINER][:rwm], or CDI devices VENDOR/CLASS=NAME|all (specs in /etc/cdi, /var/run/cdi)' });
  entrypoint = Option.String('--entrypoint', { description: "Override the image's entrypoint" });
  init = Option.Boolean('--init', false, { description: 'Run an init as PID 1 that forwards signals and reaps zombies' });
  readOnly = Option.Boolean('--read-only', false, { description: "Mount the container's root filesystem read-only" });
  hostname = Option.String('--hostname', { description: 'Container host name' });
  network = Option.String('--network,--net', { description: 'none, host, slirp4netns[:opts], pasta[:opts], container:NAME, or a network' });
  storageDriver = Option.String('--storage-driver', { description: 'overlay, fuse-overlayfs or vfs' });
  userns = Option.String('--userns', { description: 'single: map only your own id; keep-id: your own uid/gid (and name) inside, files you write in bind mounts are yours' });
  privileged = Option.Boolean('--privileged', false, { description: 'All capabilities of the user namespace, no masked paths' });
  publish = Option.Array('-p,--publish', [], { description: 'Publish a port [ip:][hostPort:]containerPort[/proto]' });
  publishAll = Option.Boolean('-P,--publish-all', false, { description: 'Publish every exposed port to a random host port' });
  dns = Option.Array('--dns', [], { description: 'DNS server' });
  dnsSearch = Option.Array('--dns-search', [], { description: 'DNS search domain' });
  dnsOption = Option.Array('--dns-option', [], { description: 'DNS resolver option' });
  addHost = Option.Array('--add-host', [], { description: 'Add a host:ip line to /etc/hosts' });
  restart = Option.String('--restart', { description: 'no, on-failure[:N], always, unless-stopped' });
  label = Option.Array('-l,--label', [], { description: 'Set a label K=V' });
  capAdd = Option.Array('--cap-add', [], { description: 'Add a capability' });
  capDrop = Option.Array('--cap-drop', [], { description: 'Drop a capability' });
  securityOpt = Option.Array('--security-opt', [], { description: 'no-new-privileges, seccomp=unconfined|FILE, systempaths=unconfined' });
  memory = Option.String('-m,--memory', { description: 'Memory limit (e.g. 512m)' });
  memorySwap = Option.String('--memory-swap', { description: 'Memory plus swap limit, -1 for unlimited' });
  memoryReservation = Option.String('--memory-reservation', { description: 'Memory soft limit' });
  cpus = Option.String('--cpus', { description: 'Number of CPUs' });
  cpuShares = Option.String('-c,--cpu-shares', { description: 'CPU shares (relative weight)' });
  cpusetCpus = Option.String('--cpuset-cpus', { description: 'CPUs to run on (0-3, 0,1)' });
  pidsLimit = Option.String('--pids-limit', { description: 'Process limit' });
  blkioWeight = Option.String('--blkio-weight', { description: 'Block IO weight (10-1000)' });
  cgroups = Option.String('--cgroups', { description: 'enabled or disabled' });
  ulimit = Option.Array('--ulimit', [], { description: 'Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, …), at most your own hard limit' });
  sysctl = Option.Array('--sysctl', [], { description: 'Namespaced kernel parameter KEY=VALUE (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)' });
  groupAdd = Option.Array('--group-add', [], { description: 'Additional group (name in the image, or gid)' });
  stopSignal = Option.String('--stop-signal', { description: 'Signal `stop` sends first (default the image\'s, else SIGTERM)' });
  stopTimeout = Option.String('--stop-timeout', { description: 'Seconds `stop` waits before SIGKILL (default 10)' });
  shmSize = Option.String('--shm-size', { description: 'Size of /dev/shm (default 64m)' });
  cidfile = Option.String('--cidfile', { description: 'Write the container id to this file (which must not exist)' });
  pid = Option.String('--pid', { description: 'PID namespace: host, or a private one (default)' });
  ipc = Option.String('--ipc', { description: 'IPC namespace: host, private (default), shareable' });
  uts = Option.String('--uts', { description: 'UTS namespace: host, or a private one (default)' });
  healthCmd = Option.String('--health-cmd', { description: 'Command to check health (run with /bin/sh -c)' });
  healthInterval = Option.String('--health-interval', { description: 'Time between checks (ms|s|m|h), default 30s' });
  healthTimeout = Option.String('--health-timeout', { description: 'Longest a check may run, default 30s' });
  healthRetries = Option.String('--health-retries', { description: 'Failures in a row before unhealthy, default 3' });
  healthStartPeriod = Option.String('--health-start-period', { description: 'Start-up time whose failures do not count, default 0s' });
  healthStartInterval = Option.String('--health-start-interval', { description: 'Time between checks during the start period, default 5s' });
  noHealthcheck = Option.Boolean('--no-healthcheck', false, { description: "Disable the image's HEALTHCHECK" });
  platform = Option.String('--platform', { description: 'os/arch[/variant] of the image to pull' });
  pull = Option.String('--pull', { description: 'missing (default), always or never' });

  image = Option.String({ required: true });
  command = Option.Proxy();

  createOptions(): CreateOptions {
    const resources: Record<string, string> = {};
    const put = (k: string, v: string | undefined) => { if (v !== undefined) resources[k] = v; };
    put('memory', this.memory); put('memorySwap', this.memorySwap); put('memoryReservation', this.memoryReservation);
    put('cpus', this.cpus); put('cpuShares', this.cpuShares); put('cpusetCpus', this.cpusetCpus);
    put('pidsLimit', this.pidsLimit); put('blkioWeight', this.blkioWeight);
    return {
      image: this.image, command: this.command, entrypoint: this.entrypoint, env: this.env, envFile: this.envFile,
      workdir: this.workdir, user: this.user, volumes: this.volume, mounts: this.mount, tmpfs: this.tmpfs, volumesFrom: this.volumesFrom, devices: this.device, rm: this.rm, detach: this.detach, name: this.name,
      interactive: this.interactive, tty: this.tty, init: this.init, readOnly: this.readOnly, hostname: this.hostname,
      network: this.network ?? '', storageDriver: this.storageDriver, userns: this.userns, privileged: this.privileged,
      publish: this.publish, publishAll: this.publishAll, dns: this.dns, dnsSearch: this.dnsSearch, dnsOption: this.dnsOption,
      addHost: this.addHost, restart: this.restart, labels: this.label, capAdd: this.capAdd, capDrop: this.capDrop,
      securityOpt: this.securityOpt, resources, cgroups: this.cgroups, platform: this.platform,
      pull: this.pull as CreateOptions['pull'],
      ulimits: this.ulimit, sysctls: this.sysctl, groupAdd: this.groupAdd, stopSignal: this.stopSignal, stopTimeout: this.stopTimeout,
      shmSize: this.shmSize, cidfile: this.cidfile, pid: this.pid, ipc: this.ipc, uts: this.uts,
      health: { cmd: this.healthCmd, interval: this.healthInterval, timeout: this.healthTimeout, retries: this.healthRetries, startPeriod: this.healthStartPeriod, startInterval: this.healthStartInterval, none: this.noHealthcheck },
    };
  }
}
