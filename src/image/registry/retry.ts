// When and how long to wait before trying a registry request again: exponential backoff with jitter, Retry-After, and which failures are transient.
//
// Transient: 429 Too Many Requests and 5xx except 501 (RFC 9110 §15.6: 501 means the server will
// never do it), and network failures that a new connection can cure. Retry-After (RFC 9110
// §10.2.3) is honoured up to the policy's ceiling, so a hostile server cannot park us for hours.

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8_000 };

export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'ENETDOWN', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'REQUEST_TIMEOUT',
]);

/** True for network errors worth another connection (resets, timeouts, refused while a registry restarts). */
export function isTransientNetworkError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException & { transient?: boolean };
  if (!e || typeof e !== 'object') return false;
  if (e.transient === true) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  return e.message === 'aborted' || e.message === 'socket hang up';
}

/** Delay before attempt number `attempt` (1 = the first retry), honouring Retry-After seconds or date. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfter?: string): number {
  if (retryAfter) {
    const secs = /^[0-9]+$/.test(retryAfter.trim()) ? parseInt(retryAfter, 10) * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(secs) && secs >= 0) return Math.min(secs, policy.maxDelayMs);
  }
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter would allow 0; keep at least half so that retries are spaced out.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
