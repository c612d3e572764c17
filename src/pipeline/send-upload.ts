/**
 * The second pass of a send: cut parts from the valid rows and upload each as soon as it
 * is cut, recording every outcome in the run state; parts leave the disk as they finish.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import { type ProgressSink } from '../model/progress.js';
import type { SendMode } from '../model/report.js';
import { type InputSource } from '../read/input.js';
import { PartFiles } from '../split/part-files.js';
import { RunState } from '../state/run-state.js';
import { uploadParts, type PartOutcome } from '../upload/upload-stage.js';
import { type CheckedInput } from './check-input.js';
import type { SendOptions } from './send-options.js';
import { cutEvent, cutParts } from './send-parts.js';
export interface CutAndUpload {
  /** Parts this invocation uploaded (the others marked uploaded were sent earlier). */
  uploadedNow: Set<number>;
  failed: boolean;
  interrupted: boolean;
  fatal: AtomicBulkError | null;
  splitDone: Date;
}

/** Second pass: cut parts from the valid rows and upload each as soon as it is cut. */
export async function cutAndUpload(
  options: SendOptions,
  checked: CheckedInput,
  input: InputSource,
  state: RunState,
  runId: string,
  mode: SendMode,
  progress: ProgressSink,
): Promise<CutAndUpload> {
  const now = options.now ?? (() => new Date());
  const uploads = new AbortController();
  const onInterrupt = () => {
    stream.stop();
    setTimeout(
      () => uploads.abort(new AtomicBulkError('INTERRUPTED', 'Interrupted.')),
      options.graceMs ?? 30_000,
    ).unref();
  };
  let cut = 0;
  let splitDone = now();
  async function* registered(): AsyncGenerator<Part> {
    const parts = cutParts(
      options,
      checked,
      input,
      runId,
      mode,
      new PartFiles(join(state.dir, 'parts'), true),
      progress,
    );
    for await (const part of parts) {
      await state.registerPart(part);
      cut = part.number;
      progress(cutEvent(part));
      yield part;
    }
    splitDone = now();
    await state.markComplete(cut);
  }
  progress({ type: 'phase', phase: 'upload' });
  const stream = uploadParts(registered(), {
    api: options.api as AtomicApi,
    flowConfigId: options.flowConfigId,
    mode,
    concurrency: options.concurrency ?? 2,
    signal: uploads.signal,
    progress,
    now: () => now().getTime(),
    ...options.upload,
    tracker: {
      isUploaded: (part) => state.part(part.number)?.status === 'uploaded',
      attempting: (part, attempt, taskId) =>
        state.update(part.number, { status: 'uploading', attempts: attempt, taskId }),
    },
  });
  options.signal?.addEventListener('abort', onInterrupt, { once: true });
  let failed = false;
  let fatal: AtomicBulkError | null = null;
  const uploadedNow = new Set<number>();
  let bytesAccepted = 0;
  try {
    for await (const outcome of stream) {
      await record(state, outcome, options.keepParts === true);
      if (outcome.status === 'uploaded') uploadedNow.add(outcome.part.number);
      if (outcome.status !== 'failed') bytesAccepted += outcome.part.bytes;
      progress({
        type: 'part',
        number: outcome.part.number,
        status: outcome.status,
        rows: outcome.part.rows,
        bytes: outcome.part.bytes,
        attempt: outcome.attempts,
        ...(outcome.status !== 'failed' ? { bytesAccepted } : {}),
      });
      if (outcome.status === 'failed') failed = true;
      if (outcome.fatal !== null && fatal === null) {
        fatal = outcome.fatal;
        stream.stop();
      }
    }
  } catch (error) {
    // A failure while reading or cutting (the input changed, the disk is full): the
    // parts sent so far are recorded; report the run as failed rather than losing that.
    if (!(error instanceof AtomicBulkError) || error.code === 'INTERRUPTED') throw error;
    fatal = error;
  } finally {
    options.signal?.removeEventListener('abort', onInterrupt);
  }
  const interrupted = options.signal?.aborted === true;
  return {
    uploadedNow,
    failed: failed || fatal !== null || (!interrupted && !state.complete),
    interrupted,
    fatal,
    splitDone,
  };
}

/** Persists a part's outcome; removes its file unless parts are kept (a resume re-cuts it). */
async function record(state: RunState, outcome: PartOutcome, keepParts: boolean): Promise<void> {
  if (outcome.status !== 'skipped') {
    const known = state.part(outcome.part.number);
    await state.update(outcome.part.number, {
      status: outcome.status === 'uploaded' ? 'uploaded' : 'failed',
      attempts: outcome.attempts,
      taskId: outcome.taskId ?? known?.taskId ?? null,
      uploadMs: outcome.uploadMs,
      error: outcome.error,
    });
  }
  if (!keepParts) await rm(outcome.part.path, { force: true });
}

/**
 * Pass 2: reads the input again and cuts the rows pass 1 found valid into parts written to
 * `partsDir`, each row with its flowInvocationId. Fails if the input changed meanwhile.
 */
