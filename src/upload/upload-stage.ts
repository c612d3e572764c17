/**
 * The upload stage: for each part, ask for a csv-task URL immediately before uploading it,
 * check that enough of the URL's window is left for the transfer (estimated from the
 * throughput seen so far), upload, and classify the answer. An expired URL is replaced,
 * never retried; 429, 5xx and network failures are retried with backoff, bounded in
 * attempts; a refusal fails the part. Errors that would fail every part (credentials,
 * an unknown or unpublished flow) stop the run.
 */
import type { AtomicApi } from '../api/client.js';
import { isAtomicBulkError, type AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import type { ProgressSink } from '../model/progress.js';
import type { SendMode } from '../model/report.js';
import type { UploadTarget } from '../model/upload-target.js';
import { backoffMs, DEFAULT_RETRY, mayRetry, sleep, type RetryPolicy } from '../model/retry.js';
import { pool, type Pool } from './pool.js';
import { uploadPart } from './uploader.js';

export interface PartOutcome {
  part: Part;
  status: 'uploaded' | 'failed' | 'skipped';
  attempts: number;
  taskId: string | null;
  /** Time spent in upload requests for this part. */
  uploadMs: number | null;
  error: string | null;
  /** Set when the failure will repeat for every part: the run should stop. */
  fatal: AtomicBulkError | null;
}

/** What the stage tells the run state as it goes; each call is persisted before it returns. */
export interface PartTracker {
  /** True when the part was already uploaded by an earlier run. */
  isUploaded(part: Part): boolean;
  attempting(part: Part, attempt: number, taskId: string | null): Promise<void>;
}

export interface UploadStageOptions {
  api: AtomicApi;
  flowConfigId: string;
  mode: SendMode;
  /** Parts in flight at once, within LIMITS.concurrency (checked by resolveSendOptions). */
  concurrency: number;
  tracker: PartTracker;
  /** Upload attempts per part, each with its own URL when needed. Default 6. */
  maxAttempts?: number;
  /**
   * The retry policy (model/retry.ts), the same the HTTP client applies to its own
   * requests: attempts per part and the time a part may spend retrying. `maxAttempts`
   * above, when given, overrides the policy's.
   */
  retry?: Partial<RetryPolicy>;
  /** Aborts requests in flight. */
  signal?: AbortSignal;
  progress?: ProgressSink;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Estimates transfer time from the throughput of finished uploads. */
export class ThroughputEstimate {
  private bytesPerMs: number;

  /** Starts from a cautious 2 MiB/s until uploads have been measured. */
  constructor(initialBytesPerSecond = 2 * 1024 * 1024) {
    this.bytesPerMs = initialBytesPerSecond / 1000;
  }

  observe(bytes: number, ms: number): void {
    if (ms <= 0 || bytes <= 0) return;
    // Weighted towards the recent, but one fast upload does not make it optimistic.
    this.bytesPerMs = 0.7 * this.bytesPerMs + 0.3 * (bytes / ms);
  }

  /** Time to keep in hand before starting an upload of `bytes`: 1.5 × estimate + 1 s. */
  neededMs(bytes: number): number {
    return (bytes / this.bytesPerMs) * 1.5 + 1000;
  }
}

/** Statuses from csv-task that no retry or other part can fix. */
function isFatal(error: AtomicBulkError): boolean {
  // A 401 even with a fresh token (revoked, clock skew) may pass: a later attempt, with
  // another token, is worth it; a refusal from the token endpoint is not.
  if (
    error.code === 'AUTH' &&
    error.context.status === 401 &&
    error.context.operation !== 'POST token'
  )
    return false;
  if (
    error.context.fatal === true ||
    error.code === 'AUTH' ||
    error.code === 'NOT_FOUND' ||
    error.code === 'FLOW_CONFIG' ||
    error.code === 'CONFIG'
  )
    return true;
  const status = error.context.status;
  return status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 408;
}

export function uploadParts(
  parts: AsyncIterable<Part>,
  options: UploadStageOptions,
): Pool<PartOutcome> {
  const now = options.now ?? Date.now;
  const wait =
    options.sleep ??
    ((ms: number, signal?: AbortSignal) => sleep(ms, signal).catch(() => undefined));
  const random = options.random ?? Math.random;
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY,
    ...options.retry,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  };
  const { maxAttempts } = policy;
  const throughput = new ThroughputEstimate();
  const progress = options.progress ?? (() => undefined);

  async function uploadOne(part: Part): Promise<PartOutcome> {
    const base = {
      part,
      taskId: null as string | null,
      uploadMs: null as number | null,
      fatal: null as AtomicBulkError | null,
    };
    if (options.tracker.isUploaded(part)) {
      progress({
        type: 'part',
        number: part.number,
        status: 'skipped',
        rows: part.rows,
        bytes: part.bytes,
        attempt: 0,
      });
      return { ...base, status: 'skipped', attempts: 0, error: null };
    }
    let target: UploadTarget | null = null;
    let lastError = 'no attempt was made';
    let uploadMs = 0;
    let attempt = 0;
    const started = now();
    /**
     * Whether the policy allows another attempt after a wait of `delayMs`: the budget Http
     * applies to its requests, counted here without the time spent transferring the part
     * (a slow link must not use up the retries of a large part).
     */
    const mayAgain = (delayMs: number) =>
      mayRetry(policy, attempt, now() - started - uploadMs, delayMs);
    const failed = (error: string, fatal: AtomicBulkError | null = null): PartOutcome => ({
      ...base,
      status: 'failed',
      attempts: attempt,
      uploadMs,
      error,
      fatal,
    });
    while (attempt < maxAttempts) {
      if (options.signal?.aborted) return failed('interrupted before the upload finished');
      attempt++;
      try {
        // A URL kept from a failed attempt is reused only while enough of its window is
        // left for the transfer; otherwise (and always after expiry) a new one is asked for.
        if (
          target === null ||
          target.expiresAt.getTime() - now() < throughput.neededMs(part.bytes)
        ) {
          target = await options.api.createCsvTask(options.flowConfigId, options.mode);
        }
      } catch (error) {
        if (options.signal?.aborted) return failed('interrupted before the upload finished');
        if (!isAtomicBulkError(error)) throw error;
        if (isFatal(error)) return failed(error.message, error);
        lastError = `csv-task: ${error.message}`;
        const waited = await backoff(
          part,
          attempt,
          lastError,
          error.context.retryAfterMs ?? null,
          mayAgain,
        );
        if (waited === null) break;
        continue;
      }
      base.taskId = target.taskId;
      await options.tracker.attempting(part, attempt, target.taskId);
      progress({
        type: 'part',
        number: part.number,
        status: 'uploading',
        rows: part.rows,
        bytes: part.bytes,
        attempt,
      });
      const started = now();
      const outcome = await uploadPart({
        target,
        path: part.path,
        timeoutMs: Math.round(Math.max(60_000, 4 * throughput.neededMs(part.bytes))),
        signal: options.signal,
        now,
      }).catch((error: unknown) => {
        if (options.signal?.aborted) return null;
        throw error;
      });
      const took = now() - started;
      uploadMs += took;
      if (outcome === null) return failed('interrupted during the upload');
      if (outcome.kind === 'accepted') {
        throughput.observe(part.bytes, took);
        return { ...base, status: 'uploaded', attempts: attempt, uploadMs, error: null };
      }
      lastError = outcome.detail;
      if (outcome.kind === 'refused') return failed(`upload refused: ${outcome.detail}`);
      if (outcome.kind === 'expired') {
        // Never retry an expired URL: the next attempt asks for a new one, at once.
        target = null;
        if (!mayAgain(0)) break;
        progress({
          type: 'retry',
          number: part.number,
          attempt,
          reason: `upload URL expired (${outcome.detail})`,
          delayMs: 0,
        });
        continue;
      }
      const delay = await backoff(part, attempt, outcome.detail, outcome.retryAfterMs, mayAgain);
      if (delay === null) break;
      if (target.expiresAt.getTime() - now() < throughput.neededMs(part.bytes) + delay)
        target = null;
    }
    const seconds = Math.round((now() - started) / 1000);
    return failed(
      `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${seconds} s: ${lastError}`,
    );
  }

  /** Waits before the next attempt and returns the wait; null when the policy allows no other. */
  async function backoff(
    part: Part,
    attempt: number,
    reason: string,
    retryAfterMs: number | null,
    mayAgain: (delayMs: number) => boolean,
  ): Promise<number | null> {
    const delay = backoffMs(policy, attempt, random, retryAfterMs);
    if (!mayAgain(delay)) return null;
    progress({ type: 'retry', number: part.number, attempt, reason, delayMs: delay });
    await wait(delay, options.signal).catch(() => undefined);
    return delay;
  }

  // One part may be cut ahead while every slot uploads: it waits on disk, not in memory.
  return pool(parts, options.concurrency, uploadOne, 1);
}
