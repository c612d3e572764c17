/**
 * The second pass of a send: cut parts from the valid rows and upload each as soon as it
 * is cut, recording every outcome in the run state; parts leave the disk as they finish.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import { PartFiles } from '../split/part-files.js';
import { RunState } from '../state/run-state.js';
import { uploadParts, type PartOutcome } from '../upload/upload-stage.js';
import { cutParts, type CutContext } from './send-parts.js';
import { Pacer } from './send-pace.js';
import { cutEvent } from '../model/progress.js';
export interface CutAndUpload {
  /** Parts this invocation uploaded (the others marked uploaded were sent earlier). */
  uploadedNow: Set<number>;
  failed: boolean;
  interrupted: boolean;
  fatal: AtomicBulkError | null;
  splitDone: Date;
}

/** Second pass: cut parts from the valid rows and upload each as soon as it is cut. */
export async function cutAndUpload(run: CutContext, state: RunState): Promise<CutAndUpload> {
  const { options } = run;
  const cutting = registered(run, state);
  const uploads = new AbortController();
  options.progress({ type: 'phase', phase: 'upload' });
  const stream = uploadParts(cutting.parts, {
    api: options.api as AtomicApi,
    flowConfigId: options.flowConfigId,
    mode: options.mode,
    concurrency: options.concurrency,
    signal: uploads.signal,
    progress: options.progress,
    now: () => options.now().getTime(),
    ...options.upload,
    tracker: {
      isUploaded: (part) => state.part(part.number)?.status === 'uploaded',
      attempting: (part, attempt, taskId) =>
        state.update(part.number, { status: 'uploading', attempts: attempt, taskId }),
    },
  });
  // An interrupt stops new parts at once; uploads in flight get graceMs to finish.
  const onInterrupt = () => {
    stream.stop();
    setTimeout(
      () => uploads.abort(new AtomicBulkError('INTERRUPTED', 'Interrupted.')),
      options.graceMs,
    ).unref();
  };
  options.signal?.addEventListener('abort', onInterrupt, { once: true });
  try {
    const seen = await recordOutcomes(stream, state, run);
    const interrupted = options.signal?.aborted === true;
    return {
      ...seen,
      failed: seen.failed || seen.fatal !== null || (!interrupted && !state.complete),
      interrupted,
      splitDone: cutting.splitDone(),
    };
  } finally {
    options.signal?.removeEventListener('abort', onInterrupt);
  }
}

/** The parts as they are cut, each recorded in the run state before it is offered for upload. */
function registered(
  run: CutContext,
  state: RunState,
): { parts: AsyncGenerator<Part>; splitDone: () => Date } {
  const { options } = run;
  let splitDone = options.now();
  const pacer = new Pacer(options);
  async function* parts(): AsyncGenerator<Part> {
    let cut = 0;
    const sink = new PartFiles(join(state.dir, 'parts'), true);
    for await (const part of cutParts(run, sink)) {
      await state.registerPart(part);
      await pacer.before(part, state.part(part.number)?.status === 'uploaded');
      cut = part.number;
      options.progress(cutEvent(part));
      yield part;
    }
    splitDone = options.now();
    await state.markComplete(cut);
  }
  return { parts: parts(), splitDone: () => splitDone };
}

/** Records every outcome in the run state and as progress; stops the stream at a fatal one. */
async function recordOutcomes(
  stream: ReturnType<typeof uploadParts>,
  state: RunState,
  run: CutContext,
): Promise<{ uploadedNow: Set<number>; failed: boolean; fatal: AtomicBulkError | null }> {
  const seen = {
    uploadedNow: new Set<number>(),
    failed: false,
    fatal: null as AtomicBulkError | null,
  };
  const { options } = run;
  let bytesAccepted = 0;
  try {
    for await (const outcome of stream) {
      // Atomic has the part whether or not its record below can be written (a lost lease
      // refuses the write): it is this invocation's upload either way.
      if (outcome.status === 'uploaded') seen.uploadedNow.add(outcome.part.number);
      // A campaign's keys count as sent once their part is accepted (SPEC 8), before the
      // run state says so: a crash between the two re-sends the part, which Atomic absorbs.
      const journal =
        outcome.status === 'uploaded'
          ? await run.campaign?.accepted(run.runId, outcome.part).then(
              () => null,
              (error: unknown) => error,
            )
          : null;
      if (journal instanceof Error) {
        // Not recorded as uploaded: the ledger does not know its keys yet. A resume sends the
        // part again (same ids, so Atomic absorbs it) and records its keys then.
        await record(
          state,
          {
            ...outcome,
            status: 'failed',
            error: 'accepted, but the campaign ledger could not record it',
          },
          options.keepParts,
        );
        throw journal;
      }
      await record(state, outcome, options.keepParts);
      if (outcome.status !== 'failed') bytesAccepted += outcome.part.bytes;
      options.progress({
        type: 'part',
        number: outcome.part.number,
        status: outcome.status,
        rows: outcome.part.rows,
        bytes: outcome.part.bytes,
        attempt: outcome.attempts,
        ...(outcome.status !== 'failed' ? { bytesAccepted } : {}),
      });
      if (outcome.status === 'failed') seen.failed = true;
      if (outcome.fatal !== null && seen.fatal === null) {
        seen.fatal = outcome.fatal;
        stream.stop();
      }
    }
  } catch (error) {
    // A failure while reading or cutting (the input changed, the disk is full): the
    // parts sent so far are recorded; report the run as failed rather than losing that.
    if (!(error instanceof AtomicBulkError) || error.code === 'INTERRUPTED') throw error;
    seen.fatal = error;
  }
  return seen;
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
