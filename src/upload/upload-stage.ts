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
  const stage = new Stage(options);
  // One part may be cut ahead while every slot uploads: it waits on disk, not in memory.
  return pool(parts, options.concurrency, (part) => stage.upload(part), 1);
}

/** What every part's attempts share: the options, the policy, the clock, the throughput seen. */
class Stage {
  readonly policy: RetryPolicy;
  readonly throughput = new ThroughputEstimate();
  readonly now: () => number;
  readonly progress: ProgressSink;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(readonly options: UploadStageOptions) {
    this.now = options.now ?? Date.now;
    this.wait =
      options.sleep ??
      ((ms: number, signal?: AbortSignal) => sleep(ms, signal).catch(() => undefined));
    this.random = options.random ?? Math.random;
    this.progress = options.progress ?? (() => undefined);
    this.policy = {
      ...DEFAULT_RETRY,
      ...options.retry,
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    };
  }

  get aborted(): boolean {
    return this.options.signal?.aborted === true;
  }

  upload(part: Part): Promise<PartOutcome> {
    if (!this.options.tracker.isUploaded(part)) return new PartAttempts(part, this).run();
    this.progress({
      type: 'part',
      number: part.number,
      status: 'skipped',
      rows: part.rows,
      bytes: part.bytes,
      attempt: 0,
    });
    const skipped = { part, taskId: null, uploadMs: null, fatal: null, error: null };
    return Promise.resolve({ ...skipped, status: 'skipped', attempts: 0 });
  }

  /**
   * Waits before the next attempt and returns the wait; null when the policy allows no
   * other (`mayAgain` counts the part's own time, transfers excluded).
   */
  async backoff(
    retry: { part: Part; attempt: number; reason: string; retryAfterMs: number | null },
    mayAgain: (delayMs: number) => boolean,
  ): Promise<number | null> {
    const { part, attempt, reason } = retry;
    const delay = backoffMs(this.policy, attempt, this.random, retry.retryAfterMs);
    if (!mayAgain(delay)) return null;
    this.progress({ type: 'retry', number: part.number, attempt, reason, delayMs: delay });
    await this.wait(delay, this.options.signal).catch(() => undefined);
    return delay;
  }
}

/** What one step of an attempt decides: go on, try again, give up, or the part's outcome. */
type Step = 'next' | 'again' | 'give-up' | PartOutcome;

/** One part's attempts: a csv-task URL when needed, the transfer, and what to do next. */
class PartAttempts {
  private target: UploadTarget | null = null;
  private taskId: string | null = null;
  private lastError = 'no attempt was made';
  private uploadMs = 0;
  private attempt = 0;
  private readonly started: number;

  constructor(
    private readonly part: Part,
    private readonly stage: Stage,
  ) {
    this.started = stage.now();
  }

  async run(): Promise<PartOutcome> {
    while (this.attempt < this.stage.policy.maxAttempts) {
      if (this.stage.aborted) return this.failed('interrupted before the upload finished');
      this.attempt++;
      let step = await this.ensureTarget();
      if (step === 'next') step = await this.transfer(this.target as UploadTarget);
      if (step === 'again') continue;
      if (step === 'give-up') break;
      if (step !== 'next') return step;
    }
    const seconds = Math.round((this.stage.now() - this.started) / 1000);
    const attempts = `${this.attempt} attempt${this.attempt === 1 ? '' : 's'}`;
    return this.failed(`gave up after ${attempts} in ${seconds} s: ${this.lastError}`);
  }

  /**
   * A URL kept from a failed attempt is reused only while enough of its window is left
   * for the transfer; otherwise (and always after expiry) a new one is asked for.
   */
  private async ensureTarget(): Promise<Step> {
    const { stage, part } = this;
    const { options } = stage;
    const needed = stage.throughput.neededMs(part.bytes);
    if (this.target !== null && this.target.expiresAt.getTime() - stage.now() >= needed)
      return 'next';
    try {
      this.target = await options.api.createCsvTask(options.flowConfigId, options.mode);
      return 'next';
    } catch (error) {
      if (stage.aborted) return this.failed('interrupted before the upload finished');
      if (!isAtomicBulkError(error)) throw error;
      if (isFatal(error)) return this.failed(error.message, error);
      this.lastError = `csv-task: ${error.message}`;
      const retryAfterMs = error.context.retryAfterMs ?? null;
      const retry = { part, attempt: this.attempt, reason: this.lastError, retryAfterMs };
      return (await stage.backoff(retry, this.mayAgain)) === null ? 'give-up' : 'again';
    }
  }

  private async transfer(target: UploadTarget): Promise<Step> {
    const { stage, part } = this;
    this.taskId = target.taskId;
    await stage.options.tracker.attempting(part, this.attempt, target.taskId);
    stage.progress({
      type: 'part',
      number: part.number,
      status: 'uploading',
      rows: part.rows,
      bytes: part.bytes,
      attempt: this.attempt,
    });
    const started = stage.now();
    const outcome = await uploadPart({
      target,
      path: part.path,
      timeoutMs: Math.round(Math.max(60_000, 4 * stage.throughput.neededMs(part.bytes))),
      signal: stage.options.signal,
      now: stage.now,
    }).catch((error: unknown) => {
      if (stage.aborted) return null;
      throw error;
    });
    const took = stage.now() - started;
    this.uploadMs += took;
    if (outcome === null) return this.failed('interrupted during the upload');
    if (outcome.kind === 'accepted') {
      stage.throughput.observe(part.bytes, took);
      return { ...this.base(), status: 'uploaded', error: null, fatal: null };
    }
    this.lastError = outcome.detail;
    if (outcome.kind === 'refused') return this.failed(`upload refused: ${outcome.detail}`);
    if (outcome.kind === 'expired') return this.expired(outcome.detail);
    const { retryAfterMs } = outcome;
    const retry = { part, attempt: this.attempt, reason: outcome.detail, retryAfterMs };
    const delay = await stage.backoff(retry, this.mayAgain);
    if (delay === null) return 'give-up';
    if (target.expiresAt.getTime() - stage.now() < stage.throughput.neededMs(part.bytes) + delay)
      this.target = null;
    return 'again';
  }

  /** Never retry an expired URL: the next attempt asks for a new one, at once. */
  private expired(detail: string): Step {
    this.target = null;
    if (!this.mayAgain(0)) return 'give-up';
    this.stage.progress({
      type: 'retry',
      number: this.part.number,
      attempt: this.attempt,
      reason: `upload URL expired (${detail})`,
      delayMs: 0,
    });
    return 'again';
  }

  /**
   * Whether the policy allows another attempt after a wait of `delayMs`: the budget Http
   * applies to its requests, counted here without the time spent transferring the part
   * (a slow link must not use up the retries of a large part).
   */
  private readonly mayAgain = (delayMs: number): boolean =>
    mayRetry(
      this.stage.policy,
      this.attempt,
      this.stage.now() - this.started - this.uploadMs,
      delayMs,
    );

  private base() {
    return {
      part: this.part,
      taskId: this.taskId,
      attempts: this.attempt,
      uploadMs: this.uploadMs,
    };
  }

  private failed(error: string, fatal: AtomicBulkError | null = null): PartOutcome {
    return { ...this.base(), status: 'failed', error, fatal };
  }
}
