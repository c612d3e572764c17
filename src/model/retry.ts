/**
 * The one retry policy (SPEC 1.5): exponential backoff with jitter, `Retry-After` read as
 * seconds or an HTTP date and capped like any other wait, and an abortable sleep. The HTTP
 * client and the upload stage both use it, and exactly one of them retries a given
 * failure: csv-task requests and uploads are retried by the upload stage, once per part
 * attempt (so a part costs at most `maxAttempts` csv-task requests and `maxAttempts`
 * uploads); every other API call (token, flows, flow config) is retried by the client.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 6. */
  maxAttempts: number;
  /** Give up when the next wait would pass this much time since the first attempt. Default 120 s. */
  maxElapsedMs: number;
  /** First backoff; doubles each attempt. Default 500 ms. */
  baseDelayMs: number;
  /** Longest single wait, Retry-After included. Default 30 s. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  maxElapsedMs: 120_000,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

/** Seconds or an HTTP date, as milliseconds from now; null when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The wait before attempt `attempt + 1` (attempt is 1-based): what the server said, or
 * exponential backoff with jitter (half fixed, half random) — both capped at maxDelayMs.
 */
export function backoffMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number,
  serverSaysMs: number | null,
): number {
  if (serverSaysMs !== null) return Math.min(policy.maxDelayMs, serverSaysMs);
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/** True when another attempt is allowed after `attempt` attempts and a wait of `delayMs`. */
export function mayRetry(
  policy: RetryPolicy,
  attempt: number,
  elapsedMs: number,
  delayMs: number,
): boolean {
  return attempt < policy.maxAttempts && elapsedMs + delayMs <= policy.maxElapsedMs;
}

/** Waits `ms`; an abort ends the wait at once (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
