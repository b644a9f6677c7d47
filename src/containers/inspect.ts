// Docker-shaped `inspect` documents for containers and images.
import * as path from 'node:path';
import { containerDir, liveState, readState, type ContainerRecord } from '../storage/containers';
import { imageConfig, imageManifest, type ImageRecord } from '../storage/images';
import type { StorePaths } from '../storage/paths';
import { healthEnabled } from './healthConfig';
import { readHealth } from './healthState';

function platformObject(s: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = s.split('/');
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function inspectContainer(p: StorePaths, rec: ContainerRecord): Record<string, unknown> {
  const st = liveState(readState(p, rec.Id));
  const argv = [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])];
  const dir = containerDir(p, rec.Id);
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: argv[0] ?? '',
    Args: argv.slice(1),
    State: {
      Status: st.Status,
      Running: st.Running,
      Paused: st.Paused,
      Restarting: false,
      OOMKilled: st.OOMKilled,
      Dead: st.Status === 'dead',
      Pid: st.Running ? st.Pid : 0,
      ExitCode: st.ExitCode,
      Error: st.Error,
      StartedAt: st.StartedAt,
      FinishedAt: st.FinishedAt,
      ...(healthEnabled(rec.Config.Healthcheck) ? { Health: readHealth(p, rec.Id) ?? { Status: st.Running ? 'starting' : 'unhealthy', FailingStreak: 0, Log: [] } } : {}),
    },
    Image: rec.ImageID,
    ResolvConfPath: path.join(dir, 'resolv.conf'),
    HostnamePath: path.join(dir, 'hostname'),
    HostsPath: path.join(dir, 'hosts'),
    LogPath: path.join(dir, 'ctr.log'),
    Name: '/' + rec.Name,
    RestartCount: st.RestartCount ?? 0,
    Driver: rec.Driver,
    Platform: 'linux',
    // What runs, as Docker 28 (containerd image store) shows it: the image's platform.
    ...(rec.ImagePlatform ? { ImageManifestDescriptor: { platform: platformObject(rec.ImagePlatform) } } : {}),
    HostConfig: rec.HostConfig,
    GraphDriver: { Name: rec.Driver, Data: rec.Driver === 'vfs' ? { RootDir: path.join(dir, 'rootfs') } : { UpperDir: path.join(dir, 'upper'), WorkDir: path.join(dir, 'work'), MergedDir: path.join(dir, 'merged') } },
    Mounts: rec.Mounts,
    Config: rec.Config,
    NetworkSettings: networkSettings(p, rec),
  };
}

/** Docker's NetworkSettings from what the last start attached (network.json). */
function networkSettings(p: StorePaths, rec: ContainerRecord): Record<string, unknown> {
  const { readNetworkInfo } = require('./networkSetup') as typeof import('./networkSetup');
  const n = readNetworkInfo(p, rec.Id);
  const mode = rec.HostConfig.NetworkMode;
  return {
    IPAddress: n?.IPAddress ?? '', IPPrefixLen: n?.IPPrefixLen ?? 0, Gateway: n?.Gateway ?? '', Ports: n?.Ports ?? {},
    Networks: { [mode]: { IPAddress: n?.IPAddress ?? '', IPPrefixLen: n?.IPPrefixLen ?? 0, Gateway: n?.Gateway ?? '', Backend: n?.Backend ?? mode } },
  };
}

export function inspectImage(p: StorePaths, img: ImageRecord): Record<string, unknown> {
  const cfg = imageConfig(p, img);
  let manifest: unknown;
  try { manifest = imageManifest(p, img); } catch { manifest = undefined; }
  return {
    Id: img.id,
    RepoTags: img.names,
    RepoDigests: img.repoDigests ?? [],
    Created: cfg.created ?? img.created,
    Author: cfg.author ?? '',
    Architecture: cfg.architecture,
    Os: cfg.os,
    Variant: cfg.variant,
    Size: img.size,
    Config: cfg.config ?? {},
    RootFS: { Type: 'layers', Layers: img.layers },
    History: cfg.history ?? [],
    Digest: img.manifestDigest,
    Manifest: manifest,
  };
}
