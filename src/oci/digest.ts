// Content digests: strict parsing (before a digest touches a path or URL), hashing, and a stream that verifies digest and size as bytes pass.
//
// Only the two algorithms the OCI image spec registers are accepted, in their canonical encodings
// (image-spec descriptor.md, "Registered algorithms"): sha256 with 64 lowercase hex digits, sha512
// with 128. Anything else is refused: a digest is used as a file name in the store and as a URL path
// segment, so a lenient parser would let a hostile manifest name `../../x` (CVE-2024-3727 class).
import * as crypto from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { LodgerError } from '../errors';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

const DIGEST_RE: Record<DigestAlgorithm, RegExp> = {
  sha256: /^sha256:[0-9a-f]{64}$/,
  sha512: /^sha512:[0-9a-f]{128}$/,
};

/** True if `s` is `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`. */
export function isValidDigest(s: unknown): s is string {
  return typeof s === 'string' && (DIGEST_RE.sha256.test(s) || DIGEST_RE.sha512.test(s));
}

/**
 * Parses a digest or throws DIGEST_INVALID. `context` names where the digest came from
 * (e.g. `manifest of 127.0.0.1:5000/x:latest, layer 2`) so the message says which document lied.
 */
export function parseDigest(s: unknown, context: string): ParsedDigest {
  if (!isValidDigest(s)) {
    const shown = typeof s === 'string' ? JSON.stringify(s.length > 140 ? s.slice(0, 140) + '…' : s) : String(s);
    throw new LodgerError(
      'DIGEST_INVALID',
      `${context}: invalid digest ${shown} — a digest must be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>`,
    );
  }
  const i = s.indexOf(':');
  return { algorithm: s.slice(0, i) as DigestAlgorithm, hex: s.slice(i + 1) };
}

/** The digest of `data` with the given algorithm, in `alg:hex` form. */
export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${crypto.createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws DIGEST_MISMATCH unless `data` hashes to `expected` (whose algorithm is used). */
export function verifyDigest(data: Buffer, expected: string, context: string): void {
  const { algorithm } = parseDigest(expected, context);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) {
    throw new LodgerError('DIGEST_MISMATCH', `${context}: content has digest ${actual}, expected ${expected} — the registry or a proxy served different content; nothing was stored`);
  }
}

/**
 * Hashes and counts bytes as they pass and fails the stream (never ends it normally) when the
 * content is longer than `size` (cut off at the first excess byte: it is never passed on), shorter,
 * or hashes to something else. Consumers must treat only 'finish'/'end' as success.
 */
export class VerifyingStream extends Transform {
  private readonly hash: crypto.Hash;
  private count = 0;
  constructor(private readonly expected: { digest: string; size: number }, private readonly context: string) {
    super();
    const { algorithm } = parseDigest(expected.digest, context);
    this.hash = crypto.createHash(algorithm);
  }

  get bytesSeen(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const room = this.expected.size - this.count;
    if (chunk.length > room) {
      cb(new LodgerError('BLOB_TOO_LONG', `${this.context}: more than the ${this.expected.size} bytes the manifest declares — refusing the rest; the registry served different content`));
      return;
    }
    this.count += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb(checkComplete(this.hash, this.count, this.expected, this.context));
  }
}

/** The error (or null) for content that ended after `count` bytes hashing into `hash`. */
export function checkComplete(hash: crypto.Hash, count: number, expected: { digest: string; size: number }, context: string): LodgerError | null {
  if (count !== expected.size) {
    return new LodgerError('BLOB_TOO_SHORT', `${context}: content ended after ${count} of ${expected.size} bytes — the transfer was cut short; try again`);
  }
  const algorithm = expected.digest.slice(0, expected.digest.indexOf(':'));
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) {
    return new LodgerError('DIGEST_MISMATCH', `${context}: content has digest ${actual}, expected ${expected.digest} — the registry served different content; nothing was stored`);
  }
  return null;
}
