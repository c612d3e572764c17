/**
 * `send`: validate → split (valid rows, each with a flowInvocationId) → for each part a
 * csv-task URL just before uploading it → upload → report. The input is read twice: the
 * first pass validates it and fixes the run id (the SHA-256 of its bytes, by default),
 * the second cuts the parts, which are uploaded while the next part is being cut, at
 * most `concurrency` at a time. Run state makes a re-run resume where it stopped.
 */
import { retentionLimit } from '../model/row-layout.js';
import { checkLimits } from './limits.js';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { makePrivateDir } from '../files/private-files.js';
import { join, resolve } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import { IssueLog } from '../model/issue-log.js';
import type { Part } from '../model/part.js';
import { NO_PROGRESS, type ProgressEvent, type ProgressSink } from '../model/progress.js';
import type { Outcome, PartReport, Report, SendMode } from '../model/report.js';
import { openInput, type InputSource } from '../read/input.js';
import { RecordReader } from '../read/record-reader.js';
import { writeInvocations } from '../report/invocations-csv.js';
import { buildReport, lineEndingStyle, partReport } from '../report/report.js';
import { ReportDir } from '../report/report-dir.js';
import { writeReport } from '../report/write-report.js';
import { InvocationIds } from '../split/invocation-ids.js';
import { DiscardedParts, PartFiles } from '../split/part-files.js';
import { selectRows } from '../split/select-rows.js';
import { sendLayout, Splitter, type PartSink, type RowLayout } from '../split/splitter.js';
import { describeDestination, RunState, runKey, type ManifestPart } from '../state/run-state.js';
import { uploadParts, type PartOutcome, type UploadStageOptions } from '../upload/upload-stage.js';
import { DEFAULT_MAX_PART_BYTES, firstPass, reading, type CheckedInput } from './check-input.js';
import type { LoadedFlow } from './flow-source.js';
import { loadFlowFromApi } from './load-flow.js';
import type { InvalidPolicy } from './split.js';
import type { RunResult } from './validate.js';

export interface SendOptions {
  /** A file path, `-` for standard input, or s3://bucket/key. */
  input: string;
  /** The flow config to validate against; fetched through `api` (latest) when omitted. */
  flow?: LoadedFlow;
  /** The flow to send to; required even when the config came from a file. */
  flowConfigId: string;
  /** live: csv-task (published flows, all users); test: csv-task/test (test users). */
  mode?: SendMode;
  /** The API; not called by a dry run. */
  api: AtomicApi | null;
  /** Part budget in bytes, header included. Default 32,000,000. */
  maxPartBytes?: number;
  /** Parts in flight, 1–5. Memory and disk hold about this many parts. Default 2. */
  concurrency?: number;
  /** abort (default): any error → nothing is sent (exit 1); skip: send the valid rows (exit 4). */
  onInvalid?: InvalidPolicy;
  /** Validate and cut parts, but never call csv-task. */
  dryRun?: boolean;
  /** Names the run; default: SHA-256 of the input. Invocation ids derive from it. */
  runId?: string;
  /** Where run state lives. Default ./.atomic-bulk */
  stateDir?: string;
  /** Re-upload parts already recorded as uploaded (same invocation ids). */
  force?: boolean;
  reportDir?: string;
  /** Keep part files after upload (in the run's state directory). */
  keepParts?: boolean;
  maxIssues?: number;
  allowUnknownVariables?: boolean;
  s3Endpoint?: string;
  tempDir?: string;
  now?: () => Date;
  progress?: ProgressSink;
  /** Stops the run: no new parts; in-flight uploads get `graceMs` to finish. */
  signal?: AbortSignal;
  /** Time in-flight uploads may still take after an interrupt. Default 30 s. */
  graceMs?: number;
  /** Tuning for the upload stage (attempts, sleeps), mainly for tests. */
  upload?: Pick<UploadStageOptions, 'maxAttempts' | 'sleep' | 'random'>;
}

export interface SendResult extends RunResult {
  /** Where the run's state lives (null for dry runs and rejected input). */
  stateDir: string | null;
}

export async function send(given: SendOptions): Promise<SendResult> {
  checkLimits(given);
  const flow =
    given.flow ??
    (given.api !== null ? await loadFlowFromApi(given.api, given.flowConfigId) : null);
  if (flow === null)
    throw new AtomicBulkError(
      'USAGE',
      'send needs a flow config (flow) or an API to fetch it from (api).',
    );
  const options: SendOptions & { flow: LoadedFlow } = { ...given, flow };
  const now = options.now ?? (() => new Date());
  const progress = options.progress ?? NO_PROGRESS;
  const started = now();
  const mode = options.mode ?? 'live';
  const maxPartBytes = options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  const policy = options.onInvalid ?? 'abort';
  if (options.dryRun !== true && options.api === null)
    throw new AtomicBulkError('USAGE', 'send needs an API connection unless --dry-run.');
  const input = await openInput(options.input, {
    tempDir: options.tempDir,
    s3Endpoint: options.s3Endpoint,
  });
  try {
    const { dir, log, checked, validated, rejected } = await firstPass(
      input,
      options,
      maxPartBytes,
      started,
      now,
      progress,
    );
    const runId = options.runId ?? checked.summary.sha256;
    const finish = (f: Finish) =>
      finishReport({
        ...f,
        options,
        checked,
        log,
        dir,
        input,
        runId,
        mode,
        started,
        validated,
        rejected,
        now,
      });
    const { result } = checked;
    if (
      result.fileErrors > 0 ||
      (log.errors > 0 && policy === 'abort') ||
      result.rows.valid === 0
    ) {
      return {
        ...(await finish({
          outcome: 'invalid',
          parts: [],
          split: validated,
          invocations: null,
          nextStep: invalidNextStep(checked, policy),
        })),
        stateDir: null,
      };
    }
    const stateDir = resolve(options.stateDir ?? '.atomic-bulk');
    if (options.dryRun === true)
      return await dryRun(options, checked, input, stateDir, runId, mode, progress, finish);
    const api = options.api as AtomicApi;
    const { state, legacyDir } = await RunState.open(
      stateDir,
      {
        runId,
        destination: api.destination,
        input: { source: input.name, sha256: checked.summary.sha256, bytes: checked.summary.bytes },
        flow: { flowConfigId: options.flowConfigId, version: options.flow.version, mode },
        split: { maxPartBytes, onInvalid: policy },
      },
      started,
    );
    try {
      if (!dir.isRemote) await state.noteReport(dir.localDir);
      // Parts left by a run that was killed are cut again if needed; never kept meanwhile.
      if (options.keepParts !== true) await state.removePartFiles();
      if (legacyDir !== null) {
        progress({
          type: 'message',
          level: 'warn',
          text: `State from atomic-bulk 0.1.0 for this run is in ${legacyDir}; it does not say where it was sent, so it is not used and every part is uploaded (rows keep their flowInvocationIds, so a destination that already has them does not send twice).`,
        });
      }
      const destination = () => ({
        ...api.destination,
        resumedFrom: state.resumed ? state.createdAt : null,
        sentInFullAt: state.sentInFullAt,
      });
      if (state.allUploaded && options.force !== true) {
        const when = state.sentInFullAt ?? state.createdAt;
        progress({
          type: 'message',
          level: 'info',
          text: `Nothing uploaded: run ${runId.slice(0, 16)}… was already sent in full on ${when} to ${describeDestination(api.destination)}.`,
        });
        return {
          ...(await finish({
            outcome: policyOutcome(checked),
            parts: state.parts.map((p) => fromManifest(p, null, true)),
            split: validated,
            invocations: invocationFiles(state),
            nextStep: alreadySentNextStep(runId, when),
            destination: destination(),
          })),
          stateDir: state.dir,
        };
      }
      if (options.force === true) await state.resetAll();
      const run = await cutAndUpload(options, checked, input, state, runId, mode, progress).finally(
        // Parts never outlive the run: whether it succeeded, failed or was interrupted.
        () => (options.keepParts === true ? undefined : state.removePartFiles()),
      );
      const outcome: Outcome = run.interrupted
        ? 'interrupted'
        : run.failed
          ? 'failed'
          : policyOutcome(checked);
      const parts = state.parts.map((p) =>
        fromManifest(
          p,
          options.keepParts === true ? join(state.dir, 'parts', partName(p.number)) : null,
          p.status === 'uploaded' && !run.uploadedNow.has(p.number),
        ),
      );
      return {
        ...(await finish({
          outcome,
          parts,
          split: run.splitDone,
          invocations: invocationFiles(state),
          nextStep: sendNextStep(outcome, run.fatal, runId),
          destination: destination(),
        })),
        stateDir: state.dir,
      };
    } finally {
      await state.close();
    }
  } finally {
    await input.close();
  }
}

interface CutAndUpload {
  /** Parts this invocation uploaded (the others marked uploaded were sent earlier). */
  uploadedNow: Set<number>;
  failed: boolean;
  interrupted: boolean;
  fatal: AtomicBulkError | null;
  splitDone: Date;
}

/** Second pass: cut parts from the valid rows and upload each as soon as it is cut. */
async function cutAndUpload(
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
async function* cutParts(
  options: SendOptions,
  checked: CheckedInput,
  input: InputSource,
  runId: string,
  mode: SendMode,
  sink: PartSink,
  progress: ProgressSink,
): AsyncGenerator<Part> {
  const maxPartBytes = options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  const reader = new RecordReader({
    maxRecordBytes: retentionLimit(maxPartBytes),
    restoreRejected: true,
    onBytes: reading('split', input, progress),
  });
  const splitter = new Splitter({
    maxPartBytes,
    layout: layoutFor(checked),
    ids: new InvocationIds(runId, options.flowConfigId, mode),
    sink,
  });
  const { invalid, rows } = checked.result;
  yield* splitter.split(selectRows(reader.batches(input.read()), invalid, rows.total));
  if (reader.summary().sha256 !== checked.summary.sha256) {
    throw new AtomicBulkError(
      'INPUT',
      `Input ${input.name} changed between validation and sending.`,
      {
        hint: 'Run again once the file is final; parts already sent will be skipped.',
      },
    );
  }
}

function cutEvent(part: Part): ProgressEvent {
  return {
    type: 'part',
    number: part.number,
    status: 'cut',
    rows: part.rows,
    bytes: part.bytes,
    attempt: 0,
  };
}

/**
 * Dry run: everything but csv-task. Parts are cut and measured (rows, bytes, SHA-256)
 * without being written, unless --keep-parts asks for the files.
 */
async function dryRun(
  options: SendOptions,
  checked: CheckedInput,
  input: InputSource,
  stateDir: string,
  runId: string,
  mode: SendMode,
  progress: ProgressSink,
  finish: (f: Finish) => Promise<RunResult>,
): Promise<SendResult> {
  const now = options.now ?? (() => new Date());
  const keep = options.keepParts === true;
  let sink: PartSink = new DiscardedParts();
  if (keep) {
    const dir = join(
      stateDir,
      'dry-runs',
      `${runKey(runId, options.flowConfigId, mode, null)}-${now().getTime()}-${process.pid}`,
    );
    await makePrivateDir(dir);
    sink = new PartFiles(dir, true);
  }
  progress({ type: 'phase', phase: 'split' });
  const parts: PartReport[] = [];
  for await (const part of cutParts(options, checked, input, runId, mode, sink, progress)) {
    options.signal?.throwIfAborted();
    progress(cutEvent(part));
    parts.push(partReport(part, keep ? part.path : null));
  }
  const splitDone = now();
  const result = await finish({
    outcome: policyOutcome(checked),
    parts,
    split: splitDone,
    invocations: null,
    nextStep: `Dry run: nothing was sent. ${parts.length} parts of at most ${options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES} bytes are ready; run without --dry-run to send.`,
  });
  return { ...result, stateDir: null };
}

interface Finish {
  outcome: Outcome;
  parts: PartReport[];
  split: Date;
  /** Id files of sent parts, for invocations.csv; null when nothing was sent. */
  invocations: string[] | null;
  nextStep: string;
  /** Where the run sends (null for dry runs and rejected input). */
  destination?: Report['destination'];
}

async function finishReport(
  f: Finish & {
    options: SendOptions & { flow: LoadedFlow };
    checked: CheckedInput;
    log: IssueLog;
    dir: ReportDir;
    input: InputSource;
    runId: string;
    mode: SendMode;
    started: Date;
    validated: Date;
    rejected: string | null;
    now: () => Date;
  },
): Promise<RunResult> {
  const invocations =
    f.invocations !== null && f.invocations.length > 0
      ? await writeInvocations(f.dir, f.invocations)
      : null;
  const finished = f.now();
  const { summary, result } = f.checked;
  const rowsWhere = (earlier: boolean) =>
    f.parts
      .filter((p) => p.status === 'uploaded' && p.previouslyUploaded === earlier)
      .reduce((n, p) => n + p.rows, 0);
  const report = buildReport({
    command: 'send',
    runId: f.runId,
    startedAt: f.started,
    finishedAt: finished,
    durationMs: {
      total: finished.getTime() - f.started.getTime(),
      validate: f.validated.getTime() - f.started.getTime(),
      split: Math.max(0, f.split.getTime() - f.validated.getTime()),
      upload: f.parts.reduce((n, p) => n + (p.uploadMs ?? 0), 0),
    },
    input: {
      source: f.input.name,
      bytes: summary.bytes,
      sha256: summary.sha256,
      bom: summary.bom,
      lineEndings: lineEndingStyle(summary.lineEndings),
    },
    flow: {
      flowConfigId: f.options.flowConfigId,
      version: f.options.flow.version,
      mode: f.mode,
      source: f.options.flow.source,
    },
    rows: { ...result.rows, sent: rowsWhere(false), alreadySent: rowsWhere(true) },
    destination: f.destination ?? null,
    log: f.log,
    parts: f.parts,
    outcome: f.outcome,
    dryRun: f.options.dryRun === true,
    files: { rejected: f.rejected, invocations },
    nextStep: f.nextStep,
  });
  await writeReport(f.dir, report);
  return { report, reportDir: f.dir.location };
}

/** How rows are rewritten into parts: drop _line/_errors, fill or add flowInvocationId. */
function layoutFor(checked: CheckedInput): RowLayout {
  return sendLayout(checked.result.plan, checked.result.header?.length ?? 0);
}

function policyOutcome(checked: CheckedInput): Outcome {
  return checked.result.rows.invalid > 0 ? 'partial' : 'success';
}

function invocationFiles(state: RunState): string[] {
  return state.parts
    .filter((p) => p.status === 'uploaded')
    .map((p) => join(state.dir, 'parts', partName(p.number).replace(/\.csv$/, '.ids.csv')))
    .filter((path) => existsSync(path));
}

function partName(number: number): string {
  return `part-${String(number).padStart(4, '0')}.csv`;
}

function fromManifest(
  p: ManifestPart,
  file: string | null,
  previouslyUploaded: boolean,
): PartReport {
  return {
    previouslyUploaded,
    number: p.number,
    rows: p.rows,
    bytes: p.bytes,
    sha256: p.sha256,
    firstLine: p.firstLine,
    lastLine: p.lastLine,
    status: p.status,
    attempts: p.attempts,
    taskId: p.taskId,
    uploadMs: p.uploadMs,
    error: p.error,
    file,
  };
}

function invalidNextStep(checked: CheckedInput, policy: InvalidPolicy): string {
  const { result } = checked;
  if (result.fileErrors > 0)
    return 'Nothing was sent. Fix the header and file problems in the report, then send again.';
  if (result.rows.valid === 0)
    return 'Nothing was sent: no row is valid. Fix the rows in rejected.csv and send that file.';
  return policy === 'abort'
    ? 'Nothing was sent (--on-invalid abort). Fix the rows in rejected.csv, or send the valid rows with --on-invalid skip.'
    : 'Nothing was sent.';
}

function alreadySentNextStep(runId: string, when: string): string {
  return `Nothing to do: run ${runId.slice(0, 16)}… was already sent in full on ${when}. To send the file again as a new campaign use --run-id <new id>; to upload the same invocations again use --force (Atomic ignores ids it has seen).`;
}

function sendNextStep(outcome: Outcome, fatal: AtomicBulkError | null, runId: string): string {
  switch (outcome) {
    case 'success':
      return 'All rows were sent. invocations.csv maps every input line to its flowInvocationId.';
    case 'partial':
      return 'The valid rows were sent. Fix the rows in rejected.csv and send that file (it keeps the original columns).';
    case 'interrupted':
      return `Interrupted. Run the same command again to resume run ${runId.slice(0, 16)}…: uploaded parts are skipped, and re-sent rows keep their flowInvocationIds.`;
    default:
      return fatal !== null
        ? `${fatal.message}${fatal.context.hint ? ` ${fatal.context.hint}` : ''} Then run the same command again to resume.`
        : 'Some parts failed. Run the same command again to resume: uploaded parts are skipped, and re-sent rows keep their flowInvocationIds.';
  }
}
