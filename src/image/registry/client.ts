// The registry client for one repository: manifests (with platform choice and digest checks), blob download and existence, blob upload and mount, manifest push.
//
// Endpoints: distribution docs/spec/api.md (GET/PUT /v2/<name>/manifests/<reference>,
// GET/HEAD /v2/<name>/blobs/<digest>, uploads in upload.ts). Every digest is validated by
// digest.ts before it is put into a URL; manifests fetched by digest are verified against it, and
// a tag's manifest against the registry's Docker-Content-Digest when it states one.
import * as http from 'node:http';
import { Readable } from 'node:stream';
import { LodgerError } from '../../errors';
import { digestOf, isValidDigest, parseDigest, verifyDigest } from '../../oci/digest';
import {
  Descriptor, ImageIndex, ImageManifest, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, Manifest, isImageManifestType, parseManifest,
} from '../../oci/manifest';
import { Platform, choosePlatformIndex, describePlatforms, formatPlatform, hostPlatform } from '../platform';
import { Reference, manifestReference, parseReferenceParts } from '../reference';
import { RegistriesConf, loadRegistriesConf, pullSources, pushDestination } from '../registriesConf';
import { repositoryScope } from './auth';
import { BlobReader } from './blobReader';
import { RegistryError } from './errors';
import { drain, readBody } from './http';
import { RegistrySession, SessionOptions, SessionStats, header } from './session';
import { BlobContent, cancelUpload, startUpload, uploadBlob } from './upload';

export interface RegistryClientOptions extends SessionOptions {
  /** registries.conf to use for forReference/resolveForPull (default: loadRegistriesConf()). */
  registriesConf?: RegistriesConf;
  /** Platform to choose from an index (default: the host's). */
  platform?: Platform;
}

/** A manifest document as fetched: bytes, digest and parsed form. */
export interface RawManifest {
  raw: Buffer;
  digest: string;
  mediaType: string;
  manifest: Manifest;
}

/** An image manifest ready to pull; `index` is set when it was chosen from a list/index. */
export interface ManifestResult {
  manifest: ImageManifest;
  digest: string;
  mediaType: string;
  raw: Buffer;
  configDescriptor: Descriptor;
  layers: Descriptor[];
  index?: { digest: string; mediaType: string; raw: Buffer; manifest: ImageIndex };
  /** The platform chosen from the index. */
  platform?: Platform;
}

export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

export interface PushBlobOptions {
  /** Upload in PATCH chunks of this many bytes (default: one monolithic PUT). */
  chunkSize?: number;
  /** Repositories on the same registry that may hold the blob: mount from them instead of uploading. */
  mountFrom?: string[];
}

const TAG_RE = /^[\w][\w.-]{0,127}$/;

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  readonly session: RegistrySession;
  private readonly opts: RegistryClientOptions;

  /**
   * `registry` is the host as in references (docker.io, 127.0.0.1:5000); `repository` the path
   * (library/alpine). Both are validated with the reference grammar before they reach a URL.
   */
  constructor(registry: string, repository: string, opts: RegistryClientOptions = {}) {
    parseReferenceParts(repository, registry);
    this.registry = registry;
    this.repository = repository;
    this.opts = opts;
    this.session = new RegistrySession(registry, opts);
  }

  /** A client for pushing to (or plainly reading) `ref`, after registries.conf location rewriting; refuses blocked registries. */
  static forReference(ref: Reference, opts: RegistryClientOptions = {}): RegistryClient {
    const conf = opts.registriesConf ?? loadRegistriesConf({ home: opts.home });
    const dest = pushDestination(conf, ref);
    return new RegistryClient(dest.reference.domain, dest.reference.path, { ...opts, insecure: opts.insecure ?? (dest.insecure || undefined) });
  }

  /**
   * Finds `ref`'s manifest, trying registries.conf mirrors first and the registry itself last;
   * the client returned is the one that answered, to fetch the blobs from. A mirror's failure
   * falls through to the next source; the registry's own failure is thrown.
   */
  static async resolveForPull(ref: Reference, opts: RegistryClientOptions = {}): Promise<{ client: RegistryClient; reference: Reference; result: ManifestResult }> {
    const conf = opts.registriesConf ?? loadRegistriesConf({ home: opts.home });
    for (const source of pullSources(conf, ref)) {
      const client = new RegistryClient(source.reference.domain, source.reference.path, { ...opts, insecure: opts.insecure ?? (source.insecure || undefined) });
      try {
        const result = await client.getManifest(source.reference, { platform: opts.platform });
        return { client, reference: source.reference, result };
      } catch (e) {
        if (!source.mirror) throw e;
      }
    }
    /* istanbul ignore next: pullSources always ends with the registry itself */
    throw new LodgerError('REGISTRY_ERROR', `pull ${ref.domain}/${ref.path}: no source to pull from`);
  }

  get stats(): SessionStats {
    return this.session.stats;
  }

  private name(reference?: string): string {
    const base = `${this.registry}/${this.repository}`;
    if (!reference) return base;
    return isValidDigest(reference) ? `${base}@${reference}` : `${base}:${reference}`;
  }

  private pullScopes(): string[] {
    return [repositoryScope(this.repository, ['pull'])];
  }

  private pushScopes(): string[] {
    return [repositoryScope(this.repository, ['pull', 'push'])];
  }

  /** GET /v2/ with credentials: resolves when the registry accepts them (used by `login`). */
  async checkAuth(operation: string): Promise<void> {
    const res = await this.session.request({ method: 'GET', url: '/v2/', scopes: [], kind: 'GET /v2/', operation, what: 'ping', action: 'pull' });
    if (res.statusCode !== 200) return this.session.fail(res, { operation, what: 'ping', action: 'pull' });
    await drain(res);
  }

  /** Fetches one manifest or index by tag or digest, checking its digest and its media type. */
  async getRawManifest(reference: string, operation = `pull ${this.name(reference)}`): Promise<RawManifest> {
    const byDigest = reference.includes(':');
    if (byDigest) parseDigest(reference, operation);
    else if (!TAG_RE.test(reference)) throw new LodgerError('REFERENCE_INVALID', `${operation}: bad tag ${JSON.stringify(reference)}`);
    const res = await this.session.request({
      method: 'GET', url: `/v2/${this.repository}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      scopes: this.pullScopes(), kind: 'GET manifest', operation, what: 'manifest', action: 'pull',
    }, this.repository);
    if (res.statusCode !== 200) return this.session.fail(res, { operation, what: 'manifest', action: 'pull' });
    const raw = await readBody(res, MAX_MANIFEST_BYTES, operation);
    this.session.stats.bytesDownloaded += raw.length;
    let digest: string;
    if (byDigest) {
      verifyDigest(raw, reference, `${operation}: manifest`);
      digest = reference;
    } else {
      digest = digestOf(raw);
      const stated = header(res, 'docker-content-digest');
      if (stated && stated.startsWith('sha256:') && stated !== digest) {
        throw new LodgerError('DIGEST_MISMATCH', `${operation}: the registry says the manifest is ${stated} but its content is ${digest} — refusing it; the registry or a proxy altered it`);
      }
    }
    const manifest = parseManifest(raw, header(res, 'content-type'), operation);
    return { raw, digest, mediaType: manifest.mediaType, manifest };
  }

  /**
   * The image manifest for `ref` (a Reference, or a tag or digest in this repository). An index
   * is resolved to the entry for `opts.platform` (default: the client's, else the host's), whose
   * manifest is fetched by digest and checked against the index entry.
   */
  async getManifest(ref: Reference | string, opts: { platform?: Platform } = {}): Promise<ManifestResult> {
    const reference = typeof ref === 'string' ? ref : manifestReference(ref);
    const operation = `pull ${this.name(reference)}`;
    const top = await this.getRawManifest(reference, operation);
    if (top.manifest.kind === 'image') {
      return { manifest: top.manifest, digest: top.digest, mediaType: top.mediaType, raw: top.raw, configDescriptor: top.manifest.config, layers: top.manifest.layers };
    }
    const index = top.manifest;
    const want = opts.platform ?? this.opts.platform ?? hostPlatform();
    const i = choosePlatformIndex(index.manifests, want);
    if (i < 0) {
      throw new LodgerError('PLATFORM_NOT_FOUND', `${operation}: no image for ${formatPlatform(want)} (the image offers: ${describePlatforms(index.manifests)}) — choose one with --platform`);
    }
    const entry = index.manifests[i];
    if (!isImageManifestType(entry.mediaType)) {
      throw new LodgerError('MANIFEST_INVALID', `${operation}: the entry for ${formatPlatform(want)} is of type ${entry.mediaType}, not an image manifest — nested indexes are not supported`);
    }
    const child = await this.getRawManifest(entry.digest, operation);
    if (child.raw.length !== entry.size) {
      throw new LodgerError('MANIFEST_INVALID', `${operation}: the manifest for ${formatPlatform(want)} is ${child.raw.length} bytes, the index says ${entry.size} — refusing it`);
    }
    if (child.manifest.kind !== 'image' || child.mediaType !== entry.mediaType) {
      throw new LodgerError('MANIFEST_INVALID', `${operation}: the index lists ${entry.digest} as ${entry.mediaType} but it is ${child.mediaType} — refusing an ambiguous manifest`);
    }
    return {
      manifest: child.manifest, digest: child.digest, mediaType: child.mediaType, raw: child.raw,
      configDescriptor: child.manifest.config, layers: child.manifest.layers,
      index: { digest: top.digest, mediaType: top.mediaType, raw: top.raw, manifest: index }, platform: want,
    };
  }

  private async openBlob(desc: Descriptor, offset: number, operation: string): Promise<http.IncomingMessage> {
    const res = await this.session.request({
      method: 'GET', url: `/v2/${this.repository}/blobs/${desc.digest}`, headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      scopes: this.pullScopes(), kind: 'GET blob', operation, what: 'blob', action: 'pull',
    }, this.repository);
    if (res.statusCode === 200 || (offset > 0 && res.statusCode === 206)) return res;
    return this.session.fail(res, { operation, what: 'blob', action: 'pull' });
  }

  /**
   * A stream of the blob's bytes that ends only if they match `desc` (digest and size); otherwise
   * it is destroyed with a LodgerError. Retries and resumes interrupted transfers.
   */
  fetchBlob(desc: Descriptor): Readable {
    const operation = `pull ${this.name()}: blob ${typeof desc.digest === 'string' ? desc.digest.slice(0, 80) : String(desc.digest)}`;
    parseDigest(desc.digest, operation);
    const session = this.session;
    return new BlobReader({
      openBlob: (d, offset) => this.openBlob(d, offset, operation),
      retryPolicy: session.retryPolicy,
      apiHost: session.apiHost,
      onBytes: (n) => { session.stats.bytesDownloaded += n; },
      onRetry: () => { session.stats.retries++; },
    }, desc, operation);
  }

  /** The whole blob in memory (for configs); refuses blobs larger than `limit`. */
  async fetchBlobBuffer(desc: Descriptor, limit = 16 * 1024 * 1024): Promise<Buffer> {
    if (desc.size > limit) {
      throw new LodgerError('BLOB_TOO_LONG', `pull ${this.name()}: blob ${desc.digest} is ${desc.size} bytes, more than the ${limit} allowed for it`);
    }
    const chunks: Buffer[] = [];
    for await (const c of this.fetchBlob(desc) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /** HEAD the blob: true if the repository has it. */
  async blobExists(digest: string, action: 'pull' | 'push' = 'pull'): Promise<boolean> {
    const operation = `${action} ${this.name()}: check blob ${typeof digest === 'string' ? digest.slice(0, 80) : String(digest)}`;
    parseDigest(digest, operation);
    const res = await this.session.request({
      method: 'HEAD', url: `/v2/${this.repository}/blobs/${digest}`,
      scopes: action === 'push' ? this.pushScopes() : this.pullScopes(), kind: 'HEAD blob', operation, what: 'blob', action,
    }, this.repository);
    await drain(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    return this.session.fail(res, { operation, what: 'blob', action });
  }

  /** Asks the registry to link `digest` from `fromRepository` (same registry) into this one. True if it did. */
  async mountBlob(digest: string, fromRepository: string): Promise<boolean> {
    const operation = `push ${this.name()}: mount blob ${typeof digest === 'string' ? digest.slice(0, 80) : String(digest)} from ${fromRepository}`;
    parseDigest(digest, operation);
    parseReferenceParts(fromRepository, this.registry);
    const ctx = this.uploadContext(operation, [fromRepository]);
    const r = await startUpload(ctx, { digest, from: fromRepository });
    if (r.mounted) return true;
    await cancelUpload(ctx, r.location);
    return false;
  }

  private uploadContext(operation: string, mountFrom: string[] = []): { session: RegistrySession; repository: string; operation: string; scopes: string[] } {
    return {
      session: this.session, repository: this.repository, operation,
      scopes: [...this.pushScopes(), ...mountFrom.map((r) => repositoryScope(r, ['pull']))],
    };
  }

  /**
   * Makes the blob present in this repository: nothing if it already is (HEAD), a mount if one of
   * `mountFrom` has it, else an upload of `content` (a Buffer, or a factory of fresh streams so a
   * failed upload can start over). The content is checked against `desc` as it is sent.
   */
  async pushBlob(desc: Descriptor, content: BlobContent, opts: PushBlobOptions = {}): Promise<PushBlobResult> {
    const operation = `push ${this.name()}: blob ${typeof desc.digest === 'string' ? desc.digest.slice(0, 80) : String(desc.digest)}`;
    parseDigest(desc.digest, operation);
    if (await this.blobExists(desc.digest, 'push')) return 'exists';
    const mountFrom = (opts.mountFrom ?? []).filter((r) => r !== this.repository);
    const ctx = this.uploadContext(operation, mountFrom);
    let pending: URL | undefined;
    for (const from of mountFrom) {
      parseReferenceParts(from, this.registry);
      const r = await startUpload(ctx, { digest: desc.digest, from });
      if (r.mounted) return 'mounted';
      // The registry declined and opened an ordinary upload: use the first, drop the others.
      if (!pending) pending = r.location;
      else await cancelUpload(ctx, r.location);
    }
    const policy = this.session.retryPolicy;
    for (let attempt = 1; ; attempt++) {
      try {
        let location = pending;
        if (!location) {
          const started = await startUpload(ctx);
          if (started.mounted) return 'mounted';
          location = started.location;
        }
        pending = undefined;
        await uploadBlob(ctx, location, desc, content, opts.chunkSize);
        return 'uploaded';
      } catch (e) {
        const transient = e instanceof RegistryError && e.transient;
        if (!transient || attempt >= policy.attempts) throw e;
        this.session.stats.retries++;
        await new Promise((r) => setTimeout(r, Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))));
      }
    }
  }

  /**
   * PUT a manifest under `reference` (a tag, or its digest). The document is parsed first, so an
   * ambiguous or malformed manifest is never published. Resolves with the manifest's digest.
   */
  async putManifest(reference: string, raw: Buffer, mediaType: string): Promise<string> {
    const operation = `push ${this.name(reference)}`;
    const byDigest = reference.includes(':');
    if (byDigest) verifyDigest(raw, reference, `${operation}: manifest`);
    else if (!TAG_RE.test(reference)) throw new LodgerError('REFERENCE_INVALID', `${operation}: bad tag ${JSON.stringify(reference)}`);
    parseManifest(raw, mediaType, `${operation}: manifest`);
    const digest = byDigest ? reference : digestOf(raw);
    const res = await this.session.request({
      method: 'PUT', url: `/v2/${this.repository}/manifests/${reference}`, headers: { 'Content-Type': mediaType }, body: raw,
      scopes: this.pushScopes(), kind: 'PUT manifest', operation, what: 'manifest', action: 'push',
    }, this.repository);
    if (res.statusCode !== 201 && res.statusCode !== 200) return this.session.fail(res, { operation, what: 'manifest', action: 'push' });
    const stated = header(res, 'docker-content-digest');
    await drain(res);
    if (stated && stated.startsWith('sha256:') && digest.startsWith('sha256:') && stated !== digest) {
      throw new LodgerError('DIGEST_MISMATCH', `${operation}: the registry stored the manifest as ${stated}, expected ${digest} — it altered the document`);
    }
    return digest;
  }
}
