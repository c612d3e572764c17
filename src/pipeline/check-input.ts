/**
 * The first pass shared by validate and send: read the input once, validate every row,
 * settle the whole-file checks, and write rejected.csv by reading the invalid rows again.
 */
import type { ReportNotifier } from '../model/notify.js';
import { retentionLimit } from '../model/row-layout.js';
import { AtomicBulkError } from '../model/errors.js';
import { MAX_PART_BYTES } from '../model/limits.js';
import { IssueLog } from '../model/issue-log.js';
import { EXIT_BY_ERROR } from '../model/outcome.js';
import { buildReport } from '../report/report.js';
import { writeReport } from '../report/write-report.js';
import type { ProgressSink } from '../model/progress.js';
import type { InputSource } from '../read/input.js';
import { RecordReader, type ReadSummary } from '../read/record-reader.js';
import { RejectedCsvWriter } from '../report/rejected-csv.js';
import { ReportDir } from '../report/report-dir.js';
import { explainRows } from '../validate/explainer.js';
import { Validator, type ValidationResult } from '../validate/validator.js';
import type { LoadedFlow } from './flow-source.js';
import type { Report } from '../model/report.js';
import type { CheckedBatch } from '../model/checked-batch.js';

export interface CheckedInput {
  result: ValidationResult;
  summary: ReadSummary;
  validator: Validator;
}

/**
 * What validate and send both take for their first pass, resolved by the caller
 * (resolveValidateOptions, resolveSendOptions): no defaults here.
 */
export interface FirstPassOptions {
  /** Which command runs the pass, for the report of a pass that fails. Default validate. */
  command?: 'validate' | 'send';
  flow: LoadedFlow;
  reportDir?: string;
  maxIssues: number;
  allowUnknownVariables: boolean;
  s3Endpoint?: string;
  tempDir?: string;
  signal?: AbortSignal;
  /** send's --notify: a first pass that fails tells it too. */
  notifier?: ReportNotifier;
  /** send --campaign: its key columns (each row needs a key) … */
  campaignKeys?: readonly string[];
  /** … and the collector that sees every checked batch. */
  observe?: (batch: CheckedBatch) => Promise<void>;
  maxPartBytes: number;
  now: () => Date;
  progress: ProgressSink;
}

/** One first pass: its input, options, start and report folder, as every step takes them. */
interface Pass {
  input: InputSource;
  options: FirstPassOptions;
  started: Date;
  dir: ReportDir;
}

/** What writing rejected.csv needs; split writes one too. */
export interface RejectedTarget {
  input: InputSource;
  dir: ReportDir;
  maxPartBytes: number;
  progress: ProgressSink;
  signal?: AbortSignal;
}

export interface FirstPass {
  dir: ReportDir;
  log: IssueLog;
  checked: CheckedInput;
  /** When validation ended. */
  validated: Date;
  /** 'rejected.csv' when rows were invalid, else null. */
  rejected: string | null;
}

/**
 * Opens the report directory, validates the whole input, and writes rejected.csv: the
 * part of a run that validate and send share.
 */
export async function firstPass(
  input: InputSource,
  options: FirstPassOptions,
  started: Date,
): Promise<FirstPass> {
  const dir = await ReportDir.open(options.reportDir, started, {
    s3Endpoint: options.s3Endpoint,
  });
  const pass: Pass = { input, options, started, dir };
  try {
    return await checkAndExplain(pass);
  } catch (error) {
    await reportUnreadable(pass, error);
    throw error;
  }
}

/** The pass itself, once its report folder is open. */
async function checkAndExplain(pass: Pass): Promise<FirstPass> {
  const { input, options, dir } = pass;
  const log = new IssueLog(options.maxIssues);
  const checked = await checkInput(pass, log);
  budgetFits(checked.result.smallestBudget, options.maxPartBytes);
  const validated = options.now();
  const { maxPartBytes, progress, signal } = options;
  const rejected = await writeRejected(checked, { input, dir, maxPartBytes, progress, signal });
  return { dir, log, checked, validated, rejected };
}

/**
 * A --max-part-bytes smaller than the header plus the longest row is one usage error that
 * names the smallest budget that works, not a record-too-large issue on every long row.
 * Rows too large for even the 32 MB cap stay row issues.
 */
export function budgetFits(smallestBudget: number, maxPartBytes: number): void {
  if (smallestBudget <= maxPartBytes || smallestBudget > MAX_PART_BYTES) return;
  throw new AtomicBulkError(
    'USAGE',
    `--max-part-bytes ${maxPartBytes.toLocaleString('en-US')} is too small for this file: the header and its longest row need ${smallestBudget.toLocaleString('en-US')} bytes.`,
    {
      hint: `Use --max-part-bytes ${smallestBudget} or more (at most ${MAX_PART_BYTES.toLocaleString('en-US')}), or leave it out.`,
    },
  );
}

/** Reads and validates the whole input. */
async function checkInput(pass: Pass, log: IssueLog): Promise<CheckedInput> {
  const { input, options } = pass;
  const { progress, signal, observe } = options;
  progress({ type: 'phase', phase: 'validate' });
  const validator = new Validator(log, {
    flow: options.flow.config,
    allowUnknownVariables: options.allowUnknownVariables,
    maxPartBytes: options.maxPartBytes,
    addsInvocationIds: true,
    nowMs: pass.started.getTime(),
    tempDir: options.tempDir,
    campaignKeys: options.campaignKeys,
    lines: input.lines,
  });
  const reader = new RecordReader({
    maxRecordBytes: retentionLimit(options.maxPartBytes),
    restoreRejected: true,
    onBytes: reading('validate', input, progress),
    lines: input.lines,
  });
  try {
    const batches = validator.check(reader.batches(input.read()));
    for (;;) {
      const next = await batches.next();
      if (next.done === true) break;
      if (observe !== undefined) await observe(next.value);
      signal?.throwIfAborted();
    }
    const summary = reader.summary();
    const result = await validator.finish(summary, signal);
    return { result, summary, validator };
  } catch (error) {
    await validator.abort();
    throw error;
  }
}

/** Writes rejected.csv when rows are invalid; returns its name, or null. */
export async function writeRejected(
  checked: CheckedInput,
  { input, dir, maxPartBytes, progress, signal }: RejectedTarget,
): Promise<string | null> {
  const { result, validator } = checked;
  if (result.rows.invalid === 0 || result.header === null || result.header.length === 0)
    return null;
  progress({ type: 'phase', phase: 'explain' });
  const keep = result.plan?.annotationStart ?? result.header.length;
  const writer = new RejectedCsvWriter(
    dir.stream('rejected.csv'),
    result.header.slice(0, keep),
    input.lines,
  );
  const reader = new RecordReader({
    maxRecordBytes: retentionLimit(maxPartBytes),
    restoreRejected: true,
    onBytes: reading('explain', input, progress),
    lines: input.lines,
    verify: { summary: checked.summary, name: input.name },
  });
  try {
    const batches = reader.batches(input.read());
    for await (const _ of explainRows(validator, batches, result, (row) => writer.add(row))) {
      signal?.throwIfAborted();
      await writer.flush();
    }
    await writer.close();
  } catch (error) {
    await writer.close().catch(() => undefined);
    await dir.abandon('rejected.csv');
    throw error;
  }
  await dir.commit('rejected.csv');
  return 'rejected.csv';
}

/** Turns chunk sizes into read-progress events. */
export function reading(
  phase: 'validate' | 'explain' | 'split',
  input: InputSource,
  progress: ProgressSink,
): (n: number) => void {
  let bytes = 0;
  return (n) => {
    bytes += n;
    progress({ type: 'read', phase, bytes, totalBytes: input.size });
  };
}

/**
 * A first pass stopped by an error (the input cannot be read, shards disagree on their
 * header, the part budget is too small) still leaves a report.json in the folder it took,
 * saying what happened; its input digest is null, since the input was not read whole.
 */
async function reportUnreadable(pass: Pass, error: unknown): Promise<void> {
  const { input, options, started, dir } = pass;
  if (!(error instanceof AtomicBulkError) || error.code === 'INTERRUPTED') return;
  const finished = options.now();
  const report = buildReport({
    command: options.command ?? 'validate',
    runId: null,
    startedAt: started,
    finishedAt: finished,
    durationMs: { total: finished.getTime() - started.getTime(), validate: 0, split: 0, upload: 0 },
    input: {
      source: input.name,
      ...(input.files !== null ? { files: [...input.files] } : {}),
      bytes: 0,
      sha256: null,
      bom: false,
      lineEndings: 'none',
    },
    lines: input.lines,
    flow: checkedFlow(options.flow),
    rows: { total: 0, valid: 0, invalid: 0, blank: 0, sent: 0, alreadySent: 0 },
    log: new IssueLog(0),
    parts: [],
    outcome: 'failed',
    exitCode: EXIT_BY_ERROR[error.code],
    dryRun: false,
    files: { rejected: null, invocations: null },
    nextStep: `${error.message}${error.context.hint ? ` ${error.context.hint}` : ''}`,
  });
  await writeReport(dir, report, undefined, options.notifier).catch(() => undefined);
}

/** The report's flow section for a run that checks only (no send mode). */
export function checkedFlow(flow: LoadedFlow): Report['flow'] {
  return {
    flowConfigId: flow.flowConfigId,
    version: flow.version,
    mode: null,
    source: flow.source,
  };
}
