/**
 * `split`: a structural split of any RFC 4180 CSV into parts under the byte budget, with
 * no flow needed. One pass: read → structural checks → split → part files, written as
 * they are produced. With --on-invalid abort (the default) any structural error means no
 * parts are kept; with skip, broken records are left out and listed in rejected.csv.
 */
import { checkLimits, DEFAULT_MAX_ISSUES, DEFAULT_MAX_PART_BYTES } from '../model/limits.js';
import { readdir, rm } from 'node:fs/promises';
import { makePrivateDir, writePrivateFile } from '../files/private-files.js';
import { basename, join, resolve } from 'node:path';
import { ROW_VALID } from '../model/checked-batch.js';
import { AtomicBulkError } from '../model/errors.js';
import { IssueLog } from '../model/issue-log.js';
import type { Part } from '../model/part.js';
import { cutEvent, NO_PROGRESS, type ProgressSink } from '../model/progress.js';
import type { Report } from '../model/report.js';
import { openInput, type InputSource } from '../read/input.js';
import { RecordReader } from '../read/record-reader.js';
import { buildReport, inputSection, partReport } from '../report/report.js';
import { ReportDir } from '../report/report-dir.js';
import { writeReport } from '../report/write-report.js';
import { PartFiles } from '../split/part-files.js';
import { COPY_LAYOUT, Splitter } from '../split/splitter.js';
import { Validator } from '../validate/validator.js';
import { budgetFits, reading, writeRejected, type CheckedInput } from './check-input.js';
import { type RunResult } from './validate.js';

export type InvalidPolicy = 'abort' | 'skip';

export interface SplitOptions {
  /** A path, `-`, an s3:// URI; several (or a directory, glob or prefix) are read as one campaign. */
  input: string | readonly string[];
  /** Directory for part-0001.csv… and parts.json; created if missing, must hold no parts. */
  outDir: string;
  /** Largest part in bytes, header and line endings included. Default 32,000,000. */
  maxPartBytes?: number;
  /** abort: any structural error → no parts (exit 1); skip: leave broken records out (exit 4). */
  onInvalid?: InvalidPolicy;
  reportDir?: string;
  maxIssues?: number;
  s3Endpoint?: string;
  tempDir?: string;
  now?: () => Date;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

export interface SplitResult extends RunResult {
  parts: Part[];
}

/** SplitOptions with every default applied and every limit checked. */
interface SplitRun {
  options: SplitOptions;
  now: () => Date;
  progress: ProgressSink;
  started: Date;
  maxPartBytes: number;
  maxIssues: number;
  policy: InvalidPolicy;
  outDir: string;
}

/** Applies split's defaults (the same constants as send's) and checks the limits. */
export function resolveSplitOptions(options: SplitOptions): SplitRun {
  checkLimits(options);
  const now = options.now ?? (() => new Date());
  return {
    options,
    now,
    progress: options.progress ?? NO_PROGRESS,
    started: now(),
    maxPartBytes: options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES,
    maxIssues: options.maxIssues ?? DEFAULT_MAX_ISSUES,
    policy: options.onInvalid ?? 'abort',
    outDir: resolve(options.outDir),
  };
}

export async function split(options: SplitOptions): Promise<SplitResult> {
  const run = resolveSplitOptions(options);
  await prepareOutDir(run.outDir);
  const input = await openInput(options.input, {
    tempDir: options.tempDir,
    s3Endpoint: options.s3Endpoint,
  });
  try {
    const dir = await ReportDir.open(options.reportDir, run.started, {
      s3Endpoint: options.s3Endpoint,
    });
    const cut = await cutAll(run, input);
    const failed = cut.log.errors > 0;
    const kept = failed && run.policy === 'abort' ? [] : cut.parts;
    if (kept.length !== cut.parts.length) await removeParts(cut.parts);
    const rejected = await writeRejected(cut.checked, {
      input,
      dir,
      maxPartBytes: run.maxPartBytes,
      progress: run.progress,
      signal: options.signal,
    });
    const result: SplitOutput = { input, cut, kept, rejected };
    if (kept.length > 0) await writeManifest(run, result);
    const report = splitReport(run, result);
    await writeReport(dir, report);
    return { report, reportDir: dir.location, parts: kept };
  } finally {
    await input.close();
  }
}

interface Cut {
  parts: Part[];
  log: IssueLog;
  checked: CheckedInput;
  splitDone: Date;
}

/**
 * The one pass: structural checks and parts written as they are cut. Under abort, parts
 * stop at the first error (they will be removed); on any failure none is left behind.
 */
async function cutAll(run: SplitRun, input: InputSource): Promise<Cut> {
  const { options, maxPartBytes, policy, progress } = run;
  const log = new IssueLog(run.maxIssues);
  const validator = new Validator(log, {
    flow: null,
    allowUnknownVariables: false,
    maxPartBytes,
    addsInvocationIds: false,
    nowMs: run.started.getTime(),
    tempDir: options.tempDir,
    lines: input.lines,
  });
  const reader = new RecordReader({
    maxRecordBytes: maxPartBytes,
    onBytes: reading('split', input, progress),
    lines: input.lines,
  });
  const splitter = new Splitter({
    maxPartBytes,
    layout: COPY_LAYOUT,
    ids: null,
    sink: new PartFiles(run.outDir, false),
    keep: (status) => status === ROW_VALID && (policy === 'skip' || log.errors === 0),
  });
  progress({ type: 'phase', phase: 'split' });
  const parts: Part[] = [];
  try {
    for await (const part of splitter.split(validator.check(reader.batches(input.read())))) {
      options.signal?.throwIfAborted();
      parts.push(part);
      progress(cutEvent(part));
    }
    const summary = reader.summary();
    const result = await validator.finish(summary, options.signal);
    budgetFits(result.smallestBudget, maxPartBytes);
    return { parts, log, checked: { result, summary, validator }, splitDone: run.now() };
  } catch (error) {
    await validator.abort();
    await removeParts(parts);
    throw error;
  }
}

/** What a split made: the parts cut, those kept (none under abort with errors), rejected.csv. */
interface SplitOutput {
  input: InputSource;
  cut: Cut;
  kept: Part[];
  rejected: string | null;
}

function splitReport(run: SplitRun, { input, cut, kept, rejected }: SplitOutput): Report {
  const { result, summary } = cut.checked;
  const failed = cut.log.errors > 0;
  const outcome = !failed
    ? 'success'
    : kept.length > 0 && result.fileErrors === 0
      ? 'partial'
      : 'invalid';
  const finished = run.now();
  const outDir = run.options.outDir;
  return buildReport({
    command: 'split',
    runId: null,
    startedAt: run.started,
    finishedAt: finished,
    durationMs: {
      total: finished.getTime() - run.started.getTime(),
      validate: 0,
      split: cut.splitDone.getTime() - run.started.getTime(),
      upload: 0,
    },
    input: inputSection(input, summary),
    lines: input.lines,
    flow: { flowConfigId: null, version: null, mode: null, source: null },
    rows: { ...result.rows, sent: 0, alreadySent: 0 },
    log: cut.log,
    parts: kept.map((p) => partReport(p, basename(p.path))),
    outcome,
    dryRun: false,
    files: { rejected, invocations: null },
    nextStep:
      outcome === 'success'
        ? `Parts are in ${outDir}; parts.json lists them with their SHA-256.`
        : outcome === 'partial'
          ? `Broken records were left out (see rejected.csv); the other rows are in ${outDir}.`
          : 'No parts were kept. Fix the problems listed (rejected.csv has the broken records) or re-run with --on-invalid skip.',
  });
}

async function prepareOutDir(dir: string): Promise<void> {
  try {
    await makePrivateDir(dir);
    const existing = (await readdir(dir)).filter(
      (f) => /^part-\d+\.csv$/.test(f) || f === 'parts.json',
    );
    if (existing.length > 0) {
      throw new AtomicBulkError(
        'USAGE',
        `Output directory ${dir} already holds parts (${existing[0] as string}, …).`,
        {
          hint: 'Choose an empty --out-dir, or remove the old parts first.',
        },
      );
    }
  } catch (error) {
    if (error instanceof AtomicBulkError) throw error;
    throw new AtomicBulkError(
      'OUTPUT',
      `Cannot use output directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {},
      error,
    );
  }
}

async function removeParts(parts: Part[]): Promise<void> {
  await Promise.all(parts.map((p) => rm(p.path, { force: true })));
}

async function writeManifest(
  { outDir, maxPartBytes }: SplitRun,
  { input, cut, kept }: SplitOutput,
): Promise<void> {
  const { summary } = cut.checked;
  const manifest = {
    input: { source: input.name, bytes: summary.bytes, sha256: summary.sha256 },
    maxPartBytes,
    parts: kept.map((p) => ({
      number: p.number,
      file: basename(p.path),
      bytes: p.bytes,
      rows: p.rows,
      firstLine: p.firstLine,
      lastLine: p.lastLine,
      sha256: p.sha256,
    })),
  };
  const path = join(outDir, 'parts.json');
  await writePrivateFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
