// A Readable for one blob that verifies size and digest while streaming and resumes with a Range request when the connection drops mid-way.
//
// The consumer sees bytes before the digest can be checked, so success is only 'end'; any
// mismatch destroys the stream with a LodgerError instead. A byte beyond the descriptor's size is
// never passed on. On resume, a server that ignores Range (200 instead of 206, RFC 9110 §14.2)
// is read from the start and the bytes we already have are skipped, so the hash stays exact.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { Readable } from 'node:stream';
import { LodgerError } from '../../errors';
import { checkComplete, parseDigest } from '../../oci/digest';
import { Descriptor } from '../../oci/manifest';
import { networkError } from './errors';
import { RetryPolicy, backoffDelay, isTransientNetworkError, sleep } from './retry';

export interface BlobOpener {
  /** Starts a GET for the blob from byte `offset`; resolves with a 200 or 206 response (anything else rejects). */
  openBlob(desc: Descriptor, offset: number): Promise<http.IncomingMessage>;
  readonly retryPolicy: RetryPolicy;
  /** Host for network error messages. */
  readonly apiHost: string;
  onBytes(n: number): void;
  onRetry(): void;
}

export class BlobReader extends Readable {
  private res?: http.IncomingMessage;
  private started = false;
  private count = 0;
  private interruptions = 0;
  private readonly hash: crypto.Hash;

  constructor(private readonly opener: BlobOpener, private readonly desc: Descriptor, private readonly context: string) {
    super({ highWaterMark: 1 << 20 });
    const { algorithm } = parseDigest(desc.digest, context);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new LodgerError('MANIFEST_INVALID', `${context}: blob size ${desc.size} is not a non-negative integer`);
    this.hash = crypto.createHash(algorithm);
  }

  /** Bytes handed to the consumer so far. */
  get bytesRead(): number {
    return this.count;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      void this.open();
    } else {
      this.res?.resume();
    }
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.res?.destroy();
    this.res = undefined;
    cb(err);
  }

  private fail(err: Error): void {
    if (!this.destroyed) this.destroy(err);
  }

  private async open(): Promise<void> {
    let res: http.IncomingMessage;
    try {
      res = await this.opener.openBlob(this.desc, this.count);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (this.destroyed) { res.destroy(); return; }
    let skip = 0;
    if (res.statusCode === 206) {
      const m = /^bytes ([0-9]+)-([0-9]+)\/([0-9]+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== this.count) {
        res.destroy();
        this.fail(new LodgerError('REGISTRY_ERROR', `${this.context}: asked to resume at byte ${this.count}, the registry answered range ${JSON.stringify(res.headers['content-range'] ?? '')} — try again`));
        return;
      }
    } else {
      skip = this.count;
      const declared = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : NaN;
      if (Number.isFinite(declared) && declared !== this.desc.size) {
        res.destroy();
        this.fail(declared > this.desc.size
          ? new LodgerError('BLOB_TOO_LONG', `${this.context}: the registry announces ${declared} bytes but the manifest says ${this.desc.size} — refusing it; the registry served different content`)
          : new LodgerError('BLOB_TOO_SHORT', `${this.context}: the registry announces ${declared} bytes but the manifest says ${this.desc.size} — refusing it; the registry served different content`));
        return;
      }
    }
    this.res = res;
    let done = false;
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      if (skip > 0) {
        if (chunk.length <= skip) { skip -= chunk.length; return; }
        chunk = chunk.subarray(skip);
        skip = 0;
      }
      if (this.count + chunk.length > this.desc.size) {
        done = true;
        res.destroy();
        this.fail(new LodgerError('BLOB_TOO_LONG', `${this.context}: the registry sent more than the ${this.desc.size} bytes the manifest declares — refusing the rest; the registry served different content`));
        return;
      }
      this.count += chunk.length;
      this.hash.update(chunk);
      this.opener.onBytes(chunk.length);
      if (!this.push(chunk)) res.pause();
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      this.res = undefined;
      // A clean end means the server says this is all; a short blob is a lie, not a hiccup.
      const err = checkComplete(this.hash, this.count, this.desc, this.context);
      if (err) this.fail(err);
      else this.push(null);
    });
    let lastError: Error | undefined;
    res.on('error', (e) => { lastError = e; });
    res.on('close', () => {
      if (done || this.destroyed) return;
      done = true;
      this.res = undefined;
      void this.interrupted(lastError ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    });
  }

  private async interrupted(err: Error): Promise<void> {
    this.interruptions++;
    if (this.interruptions >= this.opener.retryPolicy.attempts || !isTransientNetworkError(err)) {
      this.fail(networkError(`${this.context}: transfer interrupted after ${this.count} of ${this.desc.size} bytes`, this.opener.apiHost, err));
      return;
    }
    this.opener.onRetry();
    await sleep(backoffDelay(this.opener.retryPolicy, this.interruptions));
    if (!this.destroyed) await this.open();
  }
}
