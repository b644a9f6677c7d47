// The blob upload protocol: start a session (or mount from another repository), send the content monolithically or in chunks, commit it with its digest.
//
// distribution docs/spec/api.md: "Starting An Upload" (POST …/blobs/uploads/ → 202 Location),
// "Monolithic Upload" (PUT Location&digest=… with the body), "Chunked Upload" (PATCH Location with
// Content-Range start-end inclusive, 202 with the next Location and Range; then PUT with the
// digest and no body), "Cross Repository Blob Mount" (POST ?mount=<digest>&from=<repo>: 201 when
// mounted, 202 when the registry declined and started an ordinary upload instead).
import * as http from 'node:http';
import { Readable, PassThrough, pipeline } from 'node:stream';
import { LodgerError } from '../../errors';
import { VerifyingStream } from '../../oci/digest';
import { Descriptor } from '../../oci/manifest';
import { RegistryError } from './errors';
import { drain } from './http';
import { RegistrySession, RequestSpec, header } from './session';

export type BlobContent = Buffer | (() => Readable);

interface UploadContext {
  session: RegistrySession;
  repository: string;
  operation: string;
  scopes: string[];
}

function spec(ctx: UploadContext, s: Omit<RequestSpec, 'scopes' | 'operation' | 'what' | 'action'>): RequestSpec {
  return { ...s, scopes: ctx.scopes, operation: ctx.operation, what: 'upload', action: 'push' };
}

function locationOf(ctx: UploadContext, res: http.IncomingMessage, base: URL): URL {
  const loc = header(res, 'location');
  if (!loc) throw new RegistryError('REGISTRY_ERROR', `${ctx.operation}: the registry started an upload without saying where (no Location header) — it does not follow the registry API`);
  return new URL(loc, base);
}

/**
 * POST …/blobs/uploads/, optionally asking to mount `mount.digest` from `mount.from`.
 * Resolves `{mounted: true}` or the upload URL.
 */
export async function startUpload(ctx: UploadContext, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: URL }> {
  const path = `/v2/${ctx.repository}/blobs/uploads/`;
  const url = ctx.session.resolve(path);
  if (mount) {
    url.searchParams.set('mount', mount.digest);
    url.searchParams.set('from', mount.from);
  }
  const res = await ctx.session.request(spec(ctx, {
    method: 'POST', url: mount ? url : path, kind: mount ? 'POST mount' : 'POST upload',
    headers: { 'Content-Length': '0' },
  }), ctx.repository);
  if (mount && res.statusCode === 201) { await drain(res); return { mounted: true }; }
  if (res.statusCode !== 202) return ctx.session.fail(res, { operation: ctx.operation, what: 'upload', action: 'push' });
  const location = locationOf(ctx, res, ctx.session.resolve(path));
  await drain(res);
  return { mounted: false, location };
}

/** Cancels an upload session we will not use; failures do not matter (the registry expires it). */
export async function cancelUpload(ctx: UploadContext, location: URL): Promise<void> {
  try {
    const res = await ctx.session.request(spec(ctx, { method: 'DELETE', url: location, kind: 'DELETE upload', retry: false }), ctx.repository);
    await drain(res);
  } catch {
    // Best effort: an abandoned upload is garbage-collected by the registry.
  }
}

function withDigest(location: URL, digest: string): URL {
  const u = new URL(location.href);
  u.searchParams.set('digest', digest);
  return u;
}

/** The content as a stream that fails if it does not match `desc` (so a corrupt local blob is caught before commit). */
function verifiedStream(content: BlobContent, desc: Descriptor, context: string): Readable {
  const src = Buffer.isBuffer(content) ? Readable.from([content]) : content();
  const verifier = new VerifyingStream(desc, context);
  const out = new PassThrough();
  pipeline(src, verifier, out, () => { /* errors reach `out` through pipeline's destroy */ });
  return out;
}

async function* chunksOf(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    let chunk = c;
    while (n + chunk.length >= size) {
      const take = size - n;
      parts.push(chunk.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      n = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length) { parts.push(chunk); n += chunk.length; }
  }
  if (n) yield Buffer.concat(parts);
}

/** Checks the commit answer: 201 and, if the registry says it, the same digest. */
async function expectCommitted(ctx: UploadContext, res: http.IncomingMessage, desc: Descriptor): Promise<void> {
  if (res.statusCode !== 201) return ctx.session.fail(res, { operation: ctx.operation, what: 'upload', action: 'push' });
  const got = header(res, 'docker-content-digest');
  await drain(res);
  if (got && got !== desc.digest && got.startsWith(desc.digest.split(':')[0] + ':')) {
    throw new RegistryError('DIGEST_MISMATCH', `${ctx.operation}: the registry stored the blob as ${got}, expected ${desc.digest} — the upload was corrupted; try again`);
  }
}

/** Uploads `content` into the session at `location` and commits it. */
export async function uploadBlob(ctx: UploadContext, location: URL, desc: Descriptor, content: BlobContent, chunkSize?: number): Promise<void> {
  const context = `${ctx.operation}: blob ${desc.digest}`;
  if (!chunkSize || desc.size <= chunkSize) {
    const res = await ctx.session.request(spec(ctx, {
      method: 'PUT', url: withDigest(location, desc.digest), kind: 'PUT upload', retry: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: () => verifiedStream(content, desc, context),
    }), ctx.repository);
    await expectCommitted(ctx, res, desc);
    return;
  }
  let loc = location;
  let offset = 0;
  for await (const chunk of chunksOf(verifiedStream(content, desc, context), chunkSize)) {
    const end = offset + chunk.length - 1;
    const res = await ctx.session.request(spec(ctx, {
      method: 'PATCH', url: loc, kind: 'PATCH upload', retry: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end}` },
      body: chunk,
    }), ctx.repository);
    if (res.statusCode !== 202) return ctx.session.fail(res, { operation: ctx.operation, what: 'upload', action: 'push' });
    const range = header(res, 'range');
    // The registry reports what it holds as "0-<last byte>"; anything else means a chunk got lost.
    if (range && range !== `0-${end}`) {
      await drain(res);
      throw new RegistryError('REGISTRY_ERROR', `${ctx.operation}: after sending bytes up to ${end} the registry holds ${range} — try again`, { transient: true });
    }
    loc = locationOf(ctx, res, loc);
    await drain(res);
    offset = end + 1;
  }
  if (offset !== desc.size) throw new LodgerError('BLOB_TOO_SHORT', `${context}: local content ended after ${offset} of ${desc.size} bytes — the local image is damaged`);
  const res = await ctx.session.request(spec(ctx, {
    method: 'PUT', url: withDigest(loc, desc.digest), kind: 'PUT upload', retry: false,
    headers: { 'Content-Length': '0' },
  }), ctx.repository);
  await expectCommitted(ctx, res, desc);
}
