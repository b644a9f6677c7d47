// skopeo as the reference tool for test images: OCI layout → docker-archive / oci-archive, push to a registry, inspect.
import * as path from 'node:path';
import { mustRun } from './exec';
import { runCacheDir } from './paths';

/**
 * Runs skopeo. --insecure-policy: test images are unsigned and the host's policy.json is none of the
 * test's business. REGISTRY_AUTH_FILE: a file of the test run's own, as the user's credentials are none
 * of its business either — and without XDG_RUNTIME_DIR (a login by su or ssh without a systemd user
 * session) skopeo would look in /run/containers/UID/auth.json, which a plain user may not even stat.
 */
export function skopeo(args: string[], timeoutMs = 300_000): Promise<string> {
  return mustRun('skopeo', ['--insecure-policy', ...args], { timeoutMs, env: { ...process.env, REGISTRY_AUTH_FILE: path.join(runCacheDir(), 'skopeo-auth.json') } });
}

/**
 * `docker save`-style archive of the image tagged `tag` in an OCI layout. `ref` is the name:tag recorded in
 * the archive's manifest.json (RepoTags); null records none. zstd layers cannot go into a docker archive.
 */
export async function ociToDockerArchive(ociDir: string, tag: string, out: string, ref: string | null = `localhost/lodger-test:${tag}`): Promise<string> {
  await skopeo(['copy', '--quiet', `oci:${ociDir}:${tag}`, ref === null ? `docker-archive:${out}` : `docker-archive:${out}:${ref}`]);
  return out;
}

/** An oci-archive (a tar of an OCI layout) of the image tagged `tag`, tagged `refName` inside. */
export async function ociToOciArchive(ociDir: string, tag: string, out: string, refName = tag): Promise<string> {
  await skopeo(['copy', '--quiet', `oci:${ociDir}:${tag}`, `oci-archive:${out}:${refName}`]);
  return out;
}

export interface PushOptions {
  /** "user:password" for a registry with basic auth. */
  creds?: string;
  /** Default false: test registries listen on plain HTTP or use self-signed certificates. */
  tlsVerify?: boolean;
  /** Default true: push the layout's manifest and blobs byte for byte, so the test knows every digest. */
  preserveDigests?: boolean;
}

/** Pushes the image tagged `tag` in an OCI layout to `registryRef` (e.g. "127.0.0.1:5000/busybox:latest"). */
export async function pushOci(ociDir: string, tag: string, registryRef: string, opts: PushOptions = {}): Promise<void> {
  const args = ['copy', '--quiet', `--dest-tls-verify=${opts.tlsVerify ?? false}`];
  if (opts.preserveDigests ?? true) args.push('--preserve-digests');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  args.push(`oci:${ociDir}:${tag}`, `docker://${registryRef}`);
  await skopeo(args);
}

/** `skopeo inspect` of any transport reference (oci:DIR:TAG, docker-archive:FILE, docker://…), parsed. */
export async function skopeoInspect(ref: string, opts: { raw?: boolean; config?: boolean; tlsVerify?: boolean } = {}): Promise<Record<string, unknown>> {
  const args = ['inspect'];
  if (opts.raw) args.push('--raw');
  if (opts.config) args.push('--config');
  if (ref.startsWith('docker://')) args.push(`--tls-verify=${opts.tlsVerify ?? false}`);
  args.push(ref);
  return JSON.parse(await skopeo(args, 120_000)) as Record<string, unknown>;
}
