// The OCI image config and manifest shapes lodger reads and writes (image-spec config.md, manifest.md).

export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** Docker's HEALTHCHECK (not in the OCI spec; Docker-built images carry it): durations in ns. */
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ImageRuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
}

/** One descriptor shape for the whole image code (image-spec descriptor.md): the registry client's. */
export type { Descriptor } from './manifest';
import { MediaType, type Descriptor } from './manifest';

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The media types lodger writes, by the short names the store code uses (values from manifest.ts's table). */
export const MEDIA = {
  ociManifest: MediaType.OciManifest,
  ociIndex: MediaType.OciIndex,
  ociConfig: MediaType.OciConfig,
  ociLayer: MediaType.OciLayer,
  ociLayerGzip: MediaType.OciLayerGzip,
  ociLayerZstd: MediaType.OciLayerZstd,
  dockerManifest: MediaType.DockerManifest,
  dockerList: MediaType.DockerManifestList,
  dockerConfig: MediaType.DockerConfig,
  dockerLayerGzip: MediaType.DockerLayerGzip,
} as const;

/** OCI architecture name for this machine (Go's GOARCH names, which the image-spec uses). */
export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Layer media type from the blob's first bytes: what import/load record for a layer file they keep. */
export function layerMediaTypeFor(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return MEDIA.ociLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return MEDIA.ociLayerZstd;
  return MEDIA.ociLayer;
}
