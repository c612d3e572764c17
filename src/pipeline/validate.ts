/**
 * `validate`: check a campaign file against a flow, offline, and report. Never calls
 * csv-task. Reads the input once, and a second time only to write rejected.csv.
 */
import { checkLimits, DEFAULT_MAX_ISSUES, DEFAULT_MAX_PART_BYTES } from '../model/limits.js';
import { NO_PROGRESS, type ProgressSink } from '../model/progress.js';
import type { Report } from '../model/report.js';
import { shellWord } from '../model/shell-word.js';
import { openInput, type InputSource } from '../read/input.js';
import { invalidNextStep, validNextStep, type CommandContext } from '../report/next-steps.js';
import type { ReportDir } from '../report/report-dir.js';
import { buildReport, inputSection } from '../report/report.js';
import { writeReport } from '../report/write-report.js';
import { checkedFlow, firstPass } from './check-input.js';
import type { LoadedFlow } from './flow-source.js';

export { DEFAULT_MAX_ISSUES, DEFAULT_MAX_PART_BYTES } from '../model/limits.js';

export interface ValidateOptions {
  /** A path, `-`, an s3:// URI; several (or a directory, glob or prefix) are read as one campaign. */
  input: string | readonly string[];
  flow: LoadedFlow;
  /** Local directory or s3:// prefix. Default: ./atomic-bulk-report-<timestamp>/. */
  reportDir?: string;
  /** Issues listed in report.json (counts stay complete). Default 1000. */
  maxIssues?: number;
  /** Part budget in bytes, so rows too large to send are caught now. Default 32,000,000. */
  maxPartBytes?: number;
  /** Report payload.variables columns the flow does not define as warnings. Default false. */
  allowUnknownVariables?: boolean;
  s3Endpoint?: string;
  /** Directory for temporary files (duplicate index, spooled stdin). Default: OS temp dir. */
  tempDir?: string;
  now?: () => Date;
  progress?: ProgressSink;
  signal?: AbortSignal;
  /**
   * Flags the suggested next command repeats, as typed (`--sandbox`, `--flow-version 3`,
   * …): the CLI passes the ones that change what a send would check or where it goes.
   */
  nextStepFlags?: readonly string[];
  /** The flow came from the embedded sandbox (`--sandbox`). */
  sandbox?: boolean;
}

export interface RunResult {
  report: Report;
  /** Where the report files were written. */
  reportDir: string;
}

/** ValidateOptions with every default applied and every limit checked. */
export type ResolvedValidateOptions = ValidateOptions &
  Required<
    Pick<
      ValidateOptions,
      'maxIssues' | 'maxPartBytes' | 'allowUnknownVariables' | 'now' | 'progress'
    >
  >;

/** Applies validate's defaults (the same constants as send's) and checks the limits. */
export function resolveValidateOptions(given: ValidateOptions): ResolvedValidateOptions {
  checkLimits(given);
  return {
    ...given,
    maxIssues: given.maxIssues ?? DEFAULT_MAX_ISSUES,
    maxPartBytes: given.maxPartBytes ?? DEFAULT_MAX_PART_BYTES,
    allowUnknownVariables: given.allowUnknownVariables ?? false,
    now: given.now ?? (() => new Date()),
    progress: given.progress ?? NO_PROGRESS,
  };
}

export async function validate(given: ValidateOptions): Promise<RunResult> {
  const options = resolveValidateOptions(given);
  const { now, progress } = options;
  const started = now();
  const input = await openInput(options.input, {
    tempDir: options.tempDir,
    s3Endpoint: options.s3Endpoint,
  });
  try {
    const { dir, log, checked, validated, rejected } = await firstPass(input, options, started);
    const { result, summary } = checked;
    const ok = log.errors === 0;
    const finished = now();
    progress({ type: 'phase', phase: 'report' });
    const report = buildReport({
      command: 'validate',
      runId: null,
      startedAt: started,
      finishedAt: finished,
      durationMs: {
        total: finished.getTime() - started.getTime(),
        validate: validated.getTime() - started.getTime(),
        split: 0,
        upload: 0,
      },
      input: inputSection(input, summary),
      lines: input.lines,
      flow: checkedFlow(options.flow),
      rows: { ...result.rows, sent: 0, alreadySent: 0 },
      log,
      parts: [],
      outcome: ok ? 'success' : 'invalid',
      dryRun: false,
      files: { rejected, invocations: null },
      nextStep: validateNextStep(nextStepContext(options, input, dir), result),
    });
    await writeReport(dir, report);
    return { report, reportDir: dir.location };
  } finally {
    await input.close();
  }
}

/** What the suggested commands of a validate or send need (report/next-steps.ts). */
export function nextStepContext(
  options: {
    flow: LoadedFlow;
    flowConfigId?: string;
    nextStepFlags?: readonly string[];
    sandbox?: boolean;
  },
  input: InputSource,
  dir: ReportDir,
  ownIds = false,
): CommandContext {
  return {
    input: input.files === null ? shellWord(input.name) : input.name,
    flowConfigId: options.flowConfigId ?? options.flow.flowConfigId,
    flags: options.nextStepFlags ?? [],
    rejectedCsv: dir.locationOf('rejected.csv'),
    reportDir: dir.location,
    sandbox: options.sandbox === true,
    ownIds,
  };
}

/** A valid file: how to send it; otherwise how to send every row once (report/next-steps.ts). */
function validateNextStep(
  context: CommandContext,
  result: { rows: { valid: number; invalid: number }; fileErrors: number },
): string {
  return result.rows.invalid === 0 && result.fileErrors === 0
    ? validNextStep(context)
    : invalidNextStep(context, result.rows, result.fileErrors, null);
}
