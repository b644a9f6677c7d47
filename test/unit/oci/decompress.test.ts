// Layer blob decompression: gzip, zstd and plain tars decode to the same bytes with the diff_id sha256sum(1) computes.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompressStream, detectCompression } from '../../../src/oci/decompress';
import { LodgerError } from '../../../src/errors';
import { requireTool } from '../../helpers/prereqs';

// The reference tools: zstd(1) and gzip(1) compress, sha256sum(1) gives the digest to compare with.
// In CI a missing one fails the file; elsewhere the tests needing them are skipped, saying why.
const ready = ['zstd', 'gzip', 'sha256sum'].map((t) => requireTool(t)).every(Boolean);
const test = it.skipIf(!ready);

let dir: string;
let plainTar: string;

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A tar with a little of everything: text, random (incompressible) and repetitive data, a dir, a symlink. */
async function buildTar(): Promise<Buffer> {
  const pack = tarStream.pack();
  const done = readAll(pack as unknown as Readable);
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'etc/hostname', mode: 0o644 }, 'lodger\n');
  pack.entry({ name: 'random.bin', mode: 0o600 }, randomBytes(3 * 1024 * 1024 + 17));
  pack.entry({ name: 'zeros.bin', mode: 0o644 }, Buffer.alloc(2 * 1024 * 1024));
  pack.entry({ name: 'link', type: 'symlink', linkname: 'etc/hostname' });
  pack.finalize();
  return done;
}

function sha256sum(file: string): string {
  return 'sha256:' + execFileSync('sha256sum', [file]).toString().split(' ')[0];
}

/** Decodes FILE through decompressStream, reading it in 64 KiB pieces as a download would, with the digest it gives. */
async function decode(file: string, hint?: string): Promise<{ data: Buffer; digest: string; size: number }> {
  const out = decompressStream(fs.createReadStream(file, { highWaterMark: 64 * 1024 }), hint, 'sha256:test');
  const data = await readAll(out);
  const d = await out.digest;
  return { data, ...d };
}

/**
 * What a decoder may hold for a reader that does not read: its read-ahead (1 MiB) and the piece it
 * was producing (256 KiB) — never the whole bomb.
 */
const HELD_AT_MOST = 1024 * 1024 + 256 * 1024;

async function expectCorrupt(file: string, label: RegExp): Promise<LodgerError> {
  const err = await decode(file).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LodgerError);
  expect((err as LodgerError).code).toBe('LAYER_CORRUPT');
  expect((err as LodgerError).message).toMatch(/sha256:test/);
  expect((err as LodgerError).message).toMatch(label);
  return err as LodgerError;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-decompress-'));
  plainTar = path.join(dir, 'layer.tar');
  fs.writeFileSync(plainTar, await buildTar());
  if (!ready) return;
  execFileSync('sh', ['-c', 'gzip -c layer.tar > layer.tar.gz && zstd -q -c layer.tar > layer.tar.zst'], { cwd: dir });
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('decompressStream', () => {
  test('passes a plain tar through unchanged, with the diff_id sha256sum gives', async () => {
    const r = await decode(plainTar);
    expect(r.data.equals(fs.readFileSync(plainTar))).toBe(true);
    expect(r.digest).toBe(sha256sum(plainTar));
    expect(r.size).toBe(fs.statSync(plainTar).size);
  });

  test('decodes gzip made by gzip(1) to the plain tar and its diff_id', async () => {
    const r = await decode(path.join(dir, 'layer.tar.gz'), 'application/vnd.oci.image.layer.v1.tar+gzip');
    expect(r.data.equals(fs.readFileSync(plainTar))).toBe(true);
    expect(r.digest).toBe(sha256sum(plainTar));
  });

  test('decodes zstd made by zstd(1) to the plain tar and its diff_id', async () => {
    const r = await decode(path.join(dir, 'layer.tar.zst'), 'application/vnd.oci.image.layer.v1.tar+zstd');
    expect(r.data.equals(fs.readFileSync(plainTar))).toBe(true);
    expect(r.digest).toBe(sha256sum(plainTar));
    expect(r.size).toBe(fs.statSync(plainTar).size);
  });

  test('goes by the magic bytes, not by a wrong media type', async () => {
    const r = await decode(path.join(dir, 'layer.tar.zst'), 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    expect(r.digest).toBe(sha256sum(plainTar));
    const g = await decode(path.join(dir, 'layer.tar.gz'), 'application/vnd.oci.image.layer.v1.tar');
    expect(g.digest).toBe(sha256sum(plainTar));
  });

  test('decodes concatenated zstd frames with a skippable frame between them, and concatenated gzip members', async () => {
    const half = path.join(dir, 'half');
    fs.writeFileSync(half + '.a', fs.readFileSync(plainTar).subarray(0, 1_000_000));
    fs.writeFileSync(half + '.b', fs.readFileSync(plainTar).subarray(1_000_000));
    // A skippable frame (RFC 8878 §3.1.2): magic 0x184D2A5?, a 4-byte length, that many bytes.
    const skippable = Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')]);
    const big = { maxBuffer: 64 * 1024 * 1024 };
    const zst = Buffer.concat([
      execFileSync('zstd', ['-q', '-c', '--no-check', half + '.a'], big), skippable, execFileSync('zstd', ['-q', '-c', half + '.b'], big),
    ]);
    fs.writeFileSync(path.join(dir, 'multi.zst'), zst);
    expect((await decode(path.join(dir, 'multi.zst'))).digest).toBe(sha256sum(plainTar));
    const gz = Buffer.concat([execFileSync('gzip', ['-c', half + '.a'], big), execFileSync('gzip', ['-c', half + '.b'], big)]);
    fs.writeFileSync(path.join(dir, 'multi.gz'), gz);
    expect((await decode(path.join(dir, 'multi.gz'))).digest).toBe(sha256sum(plainTar));
  });

  test('a truncated gzip blob fails with LAYER_CORRUPT naming the layer', async () => {
    const gz = fs.readFileSync(path.join(dir, 'layer.tar.gz'));
    const cut = path.join(dir, 'cut.gz');
    fs.writeFileSync(cut, gz.subarray(0, gz.length - 100));
    await expectCorrupt(cut, /gzip/);
    fs.writeFileSync(cut, gz.subarray(0, 1));
    await expectCorrupt(cut, /gzip/);
  });

  test('a truncated or damaged zstd blob fails with LAYER_CORRUPT naming the layer', async () => {
    const zst = fs.readFileSync(path.join(dir, 'layer.tar.zst'));
    const cut = path.join(dir, 'cut.zst');
    for (const len of [zst.length - 3, Math.floor(zst.length / 2), 6, 3]) {
      fs.writeFileSync(cut, zst.subarray(0, len));
      await expectCorrupt(cut, /zstd/);
    }
    const damaged = Buffer.from(zst);
    damaged[4] |= 0x08; // the frame header's reserved bit (RFC 8878 §3.1.1.1.1): libzstd refuses the frame
    fs.writeFileSync(cut, damaged);
    await expectCorrupt(cut, /zstd.*Unsupported frame parameter/);
  });

  it('a zstd frame asking for a window over 128 MiB is refused, not allocated', async () => {
    // Frame header (RFC 8878 §3.1.1.1): descriptor 0 (no content size, checksum or dictionary), then a
    // Window_Descriptor of exponent 21 = a 2 GiB window; then one raw last block of 5 bytes.
    const frame = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x29, 0x00, 0x00]), Buffer.from('hello')]);
    const file = path.join(dir, 'window.zst');
    fs.writeFileSync(file, frame);
    await expectCorrupt(file, /zstd.*too much memory/);
    // The same frame with a 1 MiB window (exponent 10) decodes.
    frame[5] = 10 << 3;
    fs.writeFileSync(file, frame);
    expect((await decode(file)).data.toString()).toBe('hello');
  });

  it('an empty blob is an empty stream with the digest of nothing', async () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const r = await decode(empty);
    expect(r.size).toBe(0);
    expect(r.digest).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('an error of the input reaches the reader as it is', async () => {
    const input = new PassThrough();
    const out = decompressStream(input, undefined, 'sha256:test');
    const failure = readAll(out).then(() => undefined, (e: unknown) => e);
    input.write(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
    input.destroy(new Error('connection reset by registry'));
    expect(((await failure) as Error).message).toBe('connection reset by registry');
  });

  // A zstd or gzip bomb must not be inflated faster than it is read: while nobody reads, no more than
  // the decoder's read-ahead may be buffered.
  for (const [format, tool] of [['zstd', ['zstd', '-q', '-c']], ['gzip', ['gzip', '-c']]] as const) {
    test(`holds back a ${format} bomb until it is read (backpressure)`, async () => {
        const total = 96 * 1024 * 1024;
      const bomb = execFileSync('sh', ['-c', `head -c ${total} /dev/zero | ${tool.join(' ')}`], { maxBuffer: 16 * 1024 * 1024 });
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const out = decompressStream(Readable.from([bomb]), undefined, 'bomb');
      out.pause();
      await new Promise((r) => setTimeout(r, 300));
      expect(out.readableLength).toBeLessThanOrEqual(HELD_AT_MOST);
      let got = 0;
      for await (const c of out) got += (c as Buffer).length;
      expect(got).toBe(total);
    });
  }
  it('holds back a plain tar until it is read, however its input arrives (backpressure)', async () => {
    // 64 KiB pieces as a pipe gives them; the first bytes are no compression's magic.
    let produced = 0;
    const total = 64 * 1024 * 1024;
    const input = new Readable({
      read() {
        if (produced >= total) { this.push(null); return; }
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x61));
      },
    });
    const out = decompressStream(input, undefined, 'plain');
    out.pause();
    await new Promise((r) => setTimeout(r, 300));
    expect(out.readableLength).toBeLessThanOrEqual(HELD_AT_MOST);
    // What was taken from the input: the stream's buffers, not the whole blob.
    expect(produced).toBeLessThan(8 * 1024 * 1024);
    let got = 0;
    for await (const c of out) got += (c as Buffer).length;
    expect(got).toBe(total);
  });
});

describe('detectCompression', () => {
  it('tells formats by their magic numbers, and a truncated magic by its prefix', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from([0x28, 0xb5]))).toBe('zstd');
    expect(detectCompression(Buffer.from([0x50, 0x2a, 0x4d, 0x18]))).toBe('zstd');
    expect(detectCompression(Buffer.from('etc/hostname'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});

describe('the digest of a decoded layer', () => {
  it('rejects when the stream is destroyed before its end', async () => {
    const input = new PassThrough();
    const out = decompressStream(input, undefined, 'sha256:test');
    input.write(Buffer.from('partial, a plain tar'));
    await new Promise((r) => setImmediate(r));
    out.destroy();
    await expect(out.digest).rejects.toMatchObject({ code: 'DIGEST_INCOMPLETE' });
  });

  it('rejects with the error the stream was destroyed with', async () => {
    const out = decompressStream(new PassThrough(), undefined, 'sha256:test');
    out.on('error', () => undefined);
    out.destroy(new Error('disk full'));
    await expect(out.digest).rejects.toThrow('disk full');
  });
});
