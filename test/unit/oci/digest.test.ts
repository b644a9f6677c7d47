// Digest parsing is strict (it guards paths and URLs), and the verifying stream fails on any size or content mismatch without passing excess bytes on.
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { VerifyingStream, digestOf, isValidDigest, parseDigest, verifyDigest } from '../../../src/oci/digest';

const hex64 = 'a'.repeat(64);

describe('parseDigest', () => {
  it('accepts sha256 and sha512 in canonical form', () => {
    expect(parseDigest(`sha256:${hex64}`, 'x')).toEqual({ algorithm: 'sha256', hex: hex64 });
    expect(parseDigest(`sha512:${'b'.repeat(128)}`, 'x')).toEqual({ algorithm: 'sha512', hex: 'b'.repeat(128) });
  });

  it.each([
    [`sha256:${'A'.repeat(64)}`], [`SHA256:${hex64}`], [`sha256:${hex64}0`], [`sha256:${hex64.slice(1)}`], [`sha512:${hex64}`],
    [`sha384:${'a'.repeat(96)}`], ['sha256:../../etc/passwd'], [`sha256:${hex64}\n`], [` sha256:${hex64}`], [`sha256:${hex64}/..`],
    [''], [42], [undefined], [null], [{}],
  ])('refuses %j, naming where it came from', (bad) => {
    expect(isValidDigest(bad)).toBe(false);
    let err: unknown;
    try { parseDigest(bad, 'manifest of x, layers[1]'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LodgerError);
    expect((err as LodgerError).code).toBe('DIGEST_INVALID');
    expect((err as LodgerError).message).toMatch(/^manifest of x, layers\[1\]: invalid digest/);
  });

  it('hashes like sha256sum and verifies', () => {
    expect(digestOf('hello')).toBe(`sha256:${createHash('sha256').update('hello').digest('hex')}`);
    expect(digestOf('hello', 'sha512')).toMatch(/^sha512:[0-9a-f]{128}$/);
    expect(() => verifyDigest(Buffer.from('hello'), digestOf('hello'), 'x')).not.toThrow();
    expect(() => verifyDigest(Buffer.from('hellO'), digestOf('hello'), 'x')).toThrow(/content has digest/);
  });
});

async function run(data: Buffer[], expected: { digest: string; size: number }): Promise<{ out: Buffer; err?: LodgerError }> {
  const got: Buffer[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { got.push(c); cb(); } });
  try {
    await pipeline(Readable.from(data), new VerifyingStream(expected, 'blob x'), sink);
    return { out: Buffer.concat(got) };
  } catch (e) {
    return { out: Buffer.concat(got), err: e as LodgerError };
  }
}

describe('VerifyingStream', () => {
  const content = Buffer.from('0123456789');
  const expected = { digest: digestOf(content), size: content.length };

  it('passes matching content through', async () => {
    const r = await run([content.subarray(0, 4), content.subarray(4)], expected);
    expect(r.err).toBeUndefined();
    expect(r.out.equals(content)).toBe(true);
  });

  it('stops at the first excess byte and never passes it on', async () => {
    const r = await run([content.subarray(0, 8), Buffer.from('89X'), Buffer.alloc(1000)], expected);
    expect(r.err?.code).toBe('BLOB_TOO_LONG');
    expect(r.out.length).toBeLessThanOrEqual(content.length);
    expect(r.out.equals(content.subarray(0, 8))).toBe(true);
  });

  it('fails short content and content with another digest', async () => {
    expect((await run([content.subarray(0, 9)], expected)).err?.code).toBe('BLOB_TOO_SHORT');
    expect((await run([Buffer.from('0123456780')], expected)).err?.code).toBe('DIGEST_MISMATCH');
  });
});
