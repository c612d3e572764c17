/**
 * A send's report: the parts as the run state knows them, invocations.csv, and the
 * next step in words for each way a send can end.
 */
import { join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import { IssueLog } from '../model/issue-log.js';
import type { CampaignReport, Outcome, PartReport, Report, SendMode } from '../model/report.js';
import { type InputSource } from '../read/input.js';
import { writeInvocations, type IdFile } from '../report/invocations-csv.js';
import { buildReport, inputSection } from '../report/report.js';
import { ReportDir, why } from '../report/report-dir.js';
import { writeReport } from '../report/write-report.js';
import { partialNextStep, sentNextStep, type CommandContext } from '../report/next-steps.js';
import { idsFileName } from '../model/part.js';
import { sendLayout, type RowLayout } from '../split/splitter.js';
import { RunState, type ManifestPart } from '../state/run-state.js';
import { type CheckedInput } from './check-input.js';
import type { RunResult } from './validate.js';
import type { ResolvedSendOptions } from './send-options.js';
export interface Finish {
  outcome: Outcome;
  parts: PartReport[];
  split: Date;
  /** Id files of sent parts, for invocations.csv; null when nothing was sent. */
  invocations: IdFile[] | null;
  nextStep: string;
  /** The exit code when the outcome alone does not decide it. */
  exitCode?: number;
  /** Where the run sends (null for dry runs and rejected input). */
  destination?: Report['destination'];
  /** --rate: the pace this invocation kept. */
  pace?: CampaignReport['pace'];
}

export async function finishReport(
  f: Finish & {
    options: ResolvedSendOptions;
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
    campaign: CampaignReport | null;
  },
): Promise<RunResult> {
  try {
    return await writeSendReport(f);
  } catch (error) {
    throw sentButUnreported(f, error);
  }
}

/**
 * A report that cannot be written after rows went out is its own outcome (exit 5): the
 * rows must not be sent again, and the report can be made again from the run state.
 */
function sentButUnreported(f: { parts: PartReport[]; dir: ReportDir }, error: unknown): unknown {
  const sent = f.parts.filter((p) => p.status === 'uploaded').reduce((n, p) => n + p.rows, 0);
  if (sent === 0 || (error instanceof AtomicBulkError && error.code === 'INTERRUPTED'))
    return error;
  const cause =
    error instanceof AtomicBulkError
      ? error.message
      : typeof (error as NodeJS.ErrnoException | undefined)?.code === 'string'
        ? `${why(error)}.`
        : null;
  if (cause === null) return error;
  return new AtomicBulkError(
    'REPORT',
    `${sent} rows were sent, but the report could not be written to ${f.dir.location}: ${cause}`,
    {
      hint: 'Do not send them again by other means. Run the same command again with a writable --report-dir (and the same --state-dir): nothing is uploaded again, and the complete report and invocations.csv are written from the run state.',
    },
    error,
  );
}

async function writeSendReport(f: Parameters<typeof finishReport>[0]): Promise<RunResult> {
  const invocations =
    f.invocations !== null && f.invocations.length > 0
      ? await writeInvocations(f.dir, f.invocations, f.input.lines)
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
    input: inputSection(f.input, summary),
    lines: f.input.lines,
    flow: {
      flowConfigId: f.options.flowConfigId,
      version: f.options.flow.version,
      mode: f.mode,
      source: f.options.flow.source,
    },
    rows: {
      ...result.rows,
      sent: rowsWhere(false),
      alreadySent: rowsWhere(true),
      ...(f.campaign !== null
        ? { skippedAlreadySent: f.campaign.skippedAlreadySent + f.campaign.skippedRepeated }
        : {}),
    },
    ...(f.campaign !== null ? { campaign: f.campaign } : {}),
    destination: f.destination ?? null,
    log: f.log,
    parts: f.parts,
    outcome: f.outcome,
    ...(f.exitCode !== undefined ? { exitCode: f.exitCode } : {}),
    dryRun: f.options.dryRun,
    files: {
      rejected: f.rejected,
      invocations: invocations?.name ?? null,
      ...(invocations !== null
        ? { invocationsSha256: invocations.sha256, invocationsRows: invocations.rows }
        : {}),
    },
    nextStep: f.nextStep,
  });
  await writeReport(f.dir, report, f.options.api?.sealer, f.options.notifier);
  return { report, reportDir: f.dir.location };
}

/** How rows are rewritten into parts: drop _line/_errors, fill or add flowInvocationId. */
export function layoutFor(checked: CheckedInput): RowLayout {
  return sendLayout(checked.result.plan, checked.result.header?.length ?? 0);
}

export function policyOutcome(checked: CheckedInput): Outcome {
  return checked.result.rows.invalid > 0 ? 'partial' : 'success';
}

/** Every uploaded part's id file, with the digest the sealed run state recorded. */
export function invocationFiles(state: RunState): IdFile[] {
  return state.parts
    .filter((p) => p.status === 'uploaded')
    .map((p) => ({
      part: p.number,
      path: join(state.dir, 'parts', idsFileName(p.number)),
      sha256: p.idsSha256,
    }));
}

export function fromManifest(
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

export function alreadySentNextStep(runId: string, when: string): string {
  return `Nothing to do: run ${runId.slice(0, 16)}… was already sent in full on ${when}. To send the file again as a new campaign use --run-id <new id>; to upload the same invocations again use --force (Atomic ignores ids it has seen).`;
}

/** How a send ended, for its next step. */
export interface SendEnd {
  outcome: Outcome;
  /** The error that stopped the run, if one did. */
  fatal: AtomicBulkError | null;
  runId: string;
  /** Invalid rows left out (under --on-invalid skip). */
  invalid: number;
}

export function sendNextStep(
  context: CommandContext,
  { outcome, fatal, runId, invalid }: SendEnd,
): string {
  switch (outcome) {
    case 'success':
      return sentNextStep(context);
    case 'partial':
      return partialNextStep(context, invalid);
    case 'interrupted':
      return `Interrupted. Run the same command again to resume run ${runId.slice(0, 16)}…: uploaded parts are skipped, and re-sent rows keep their flowInvocationIds.`;
    default:
      if (fatal?.code === 'INPUT')
        return `${fatal.message} The rows uploaded before it are listed in invocations.csv. The changed input is a new run whose rows get new flowInvocationIds: send it only without those rows, or cancel this run's cards first (atomic-bulk cancel <this report folder>).`;
      // A closed window's message names when it opens and its hint says what to do.
      if (fatal?.code === 'PAUSED') return `${fatal.message} ${fatal.context.hint ?? ''}`.trim();
      return fatal !== null
        ? `${fatal.message}${fatal.context.hint ? ` ${fatal.context.hint}` : ''} Then run the same command again to resume.`
        : 'Some parts failed. Run the same command again to resume: uploaded parts are skipped, and re-sent rows keep their flowInvocationIds.';
  }
}
