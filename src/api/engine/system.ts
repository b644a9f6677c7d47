// The system half of the API's backend: version, info and disk use in Docker's shapes, from the engine's own reports.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../helper/native';
import { statusText } from '../../humanize';
import * as os from 'node:os';
import { listContainerIds, liveState, readState } from '../../storage/containers';
import { readIndex } from '../../storage/images';
import type { StorePaths } from '../../storage/paths';
import { API_VERSION, MIN_API_VERSION } from '../version';

type Obj = Record<string, unknown>;

/** lodger's own version, from package.json beside the bundle. */
export function lodgerVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch { return '0.0.0'; }
}

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

export function versionDoc(): Obj {
  const v = lodgerVersion();
  return {
    Platform: { Name: 'lodger' },
    Components: [{ Name: 'Engine', Version: v, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: GOARCH[process.arch] ?? process.arch, KernelVersion: os.release() } }],
    Version: v, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node ${process.version}`,
    Os: 'linux', Arch: GOARCH[process.arch] ?? process.arch, KernelVersion: os.release(), BuildTime: '',
  };
}

export async function infoDoc(p: StorePaths): Promise<Obj> {
  const { gatherInfo } = await import('../../system/info');
  const info = await gatherInfo(p) as { store: { storageDriver: string; root: string }; cgroups?: { version?: number } };
  let running = 0, paused = 0, stopped = 0;
  const ids = listContainerIds(p);
  for (const id of ids) {
    const st = liveState(readState(p, id));
    if (st.Status === 'running') running++; else if (st.Status === 'paused') paused++; else stopped++;
  }
  return {
    ID: `lodger-${process.getuid?.()}`, Containers: ids.length, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: stopped,
    Images: readIndex(p).length, Driver: info.store.storageDriver, DriverStatus: [['Backing Filesystem', '']], Plugins: { Volume: [], Network: ['bridge', 'host', 'none'], Log: ['json-file'] },
    MemoryLimit: true, SwapLimit: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true, IPv4Forwarding: true,
    Debug: false, NFd: 0, OomKillDisable: false, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs', CgroupVersion: '2', NEventsListener: 0, KernelVersion: os.release(), OperatingSystem: osName(), OSVersion: '', OSType: 'linux',
    Architecture: ARCH[process.arch] ?? process.arch, IndexServerAddress: 'https://index.docker.io/v1/', RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: os.availableParallelism(), MemTotal: os.totalmem(), DockerRootDir: info.store.root, Name: os.hostname(), Labels: [], ExperimentalBuild: false,
    ServerVersion: lodgerVersion(), Runtimes: { 'lodger-helper': { path: 'lodger-helper' } }, DefaultRuntime: 'lodger-helper', Swarm: { LocalNodeState: 'inactive', NodeID: '', NodeAddr: '', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true, Isolation: 'default', InitBinary: '', SecurityOptions: ['name=seccomp,profile=builtin', 'name=rootless', 'name=cgroupns'], Warnings: [],
  };
}

function osName(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch { return 'Linux'; }
}

export async function dfDoc(p: StorePaths): Promise<Obj> {
  const { diskUsage } = await import('../../system/systemDf');
  const r = await diskUsage(p);
  const secs = (iso: string) => Math.floor(Date.parse(iso) / 1000) || 0;
  return {
    LayersSize: r.layers.reduce((n, l) => n + l.size, 0),
    Images: r.images.map((i) => ({ Id: i.id, ParentId: '', RepoTags: i.names, RepoDigests: [], Created: secs(i.created), Size: i.size, SharedSize: i.sharedSize, VirtualSize: i.size, Labels: {}, Containers: i.containers })),
    Containers: r.containers.map((c) => ({ Id: c.id, Names: ['/' + c.name], Image: c.image, ImageID: '', Command: c.command, Created: secs(c.created), Ports: [], SizeRw: c.size, Labels: {}, State: c.state.Status, Status: statusText(c.state), HostConfig: { NetworkMode: 'default' }, NetworkSettings: { Networks: {} }, Mounts: [] })),
    Volumes: [],
    BuildCache: [],
  };
}
