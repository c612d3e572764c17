/**
 * Assembles the report from what the stages measured, and refuses to call a run a
 * success when its counts do not add up (SPEC 3.2).
 */
import { ISSUE_CODES, type Issue, type IssueCode } from '../model/issue.js';
import type { IssueLog } from '../model/issue-log.js';
import type { LineMap } from '../model/line-map.js';
import type { ReadSummary } from '../model/read-batch.js';
import type { Part } from '../model/part.js';
import { EXIT_BY_OUTCOME } from '../model/outcome.js';
import {
  REPORT_SCHEMA_VERSION,
  type Command,
  type LineEndingStyle,
  type Outcome,
  type PartReport,
  type Report,
} from '../model/report.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';

export interface ReportInput {
  command: Command;
  runId: string | null;
  startedAt: Date;
  finishedAt: Date;
  durationMs: Report['durationMs'];
  input: Report['input'];
  flow: Report['flow'];
  rows: Report['rows'];
  log: IssueLog;
  parts: PartReport[];
  destination?: Report['destination'];
  outcome: Outcome;
  /** The exit code when the outcome alone does not decide it (a failed send's error kind). */
  exitCode?: number;
  dryRun: boolean;
  files: Report['files'];
  nextStep: string;
  /** For a multi-file input: issues are located as file and the file's own line. */
  lines?: LineMap;
  /** send --campaign: the ledger's decisions for the run. */
  campaign?: Report['campaign'];
}

/** The report's `input` section; `files` only for a multi-file input. */
export function inputSection(
  input: { name: string; files: readonly string[] | null },
  summary: ReadSummary,
): Report['input'] {
  return {
    source: input.name,
    ...(input.files !== null ? { files: [...input.files] } : {}),
    bytes: summary.bytes,
    sha256: summary.sha256,
    bom: summary.bom,
    lineEndings: lineEndingStyle(summary.lineEndings),
  };
}

/** An issue as people read it: in a multi-file input, its file and the file's own line. */
export function localise(issue: Issue, lines: LineMap | undefined): Issue {
  if (lines === undefined || !lines.multiFile) return issue;
  const place = lines.locate(issue.line);
  return { ...issue, line: place.line, ...(place.file !== null ? { file: place.file } : {}) };
}

/** Names the line-ending style from the counts of record terminators. */
export function lineEndingStyle(counts: { LF: number; CRLF: number; CR: number }): LineEndingStyle {
  const kinds = (['LF', 'CRLF', 'CR'] as const).filter((k) => counts[k] > 0);
  if (kinds.length === 0) return 'none';
  return kinds.length === 1 ? (kinds[0] as LineEndingStyle) : 'mixed';
}

export function buildReport(input: ReportInput): Report {
  const byCode: Partial<Record<IssueCode, number>> = {};
  for (const [code, n] of [...input.log.byCode].sort(([a], [b]) => (a < b ? -1 : 1)))
    byCode[code] = n;
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    command: input.command,
    runId: input.runId,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    durationMs: input.durationMs,
    input: input.input,
    flow: input.flow,
    rows: input.rows,
    issueCounts: { errors: input.log.errors, warnings: input.log.warnings, byCode },
    issues: input.log.list().map((i) => localise(i, input.lines)),
    issuesTruncated: input.log.truncated,
    parts: input.parts,
    destination: input.destination ?? null,
    outcome: input.outcome,
    exitCode: input.exitCode ?? EXIT_BY_OUTCOME[input.outcome],
    dryRun: input.dryRun,
    files: input.files,
    nextStep: input.nextStep,
    ...(input.campaign !== undefined ? { campaign: input.campaign } : {}),
  };
  const problems = reconcile(report);
  if (problems.length > 0 && report.outcome === 'success') {
    report.outcome = 'failed';
    report.exitCode = EXIT_BY_OUTCOME.failed;
    report.nextStep = `The counts did not reconcile (${problems.join('; ')}); this is a bug in atomic-bulk. Do not assume the campaign was sent; report it with this file.`;
  }
  return report;
}

/** A freshly cut part as the report lists it: not yet uploaded. */
export function partReport(part: Part, file: string | null): PartReport {
  return {
    number: part.number,
    rows: part.rows,
    bytes: part.bytes,
    sha256: part.sha256,
    firstLine: part.firstLine,
    lastLine: part.lastLine,
    status: 'pending',
    attempts: 0,
    taskId: null,
    uploadMs: null,
    error: null,
    file,
    previouslyUploaded: false,
  };
}

/** Every way the report's counts contradict each other. */
export function reconcile(report: Report): string[] {
  const out: string[] = [];
  const { rows, parts } = report;
  if (rows.total !== rows.valid + rows.invalid) {
    out.push(`rows.total ${rows.total} != valid ${rows.valid} + invalid ${rows.invalid}`);
  }
  const uploaded = (earlier: boolean) =>
    parts
      .filter((p) => p.status === 'uploaded' && p.previouslyUploaded === earlier)
      .reduce((n, p) => n + p.rows, 0);
  if (report.command === 'send' && uploaded(false) !== rows.sent)
    out.push(`parts uploaded now hold ${uploaded(false)} rows, rows.sent is ${rows.sent}`);
  if (report.command === 'send' && uploaded(true) !== rows.alreadySent)
    out.push(
      `parts uploaded earlier hold ${uploaded(true)} rows, rows.alreadySent is ${rows.alreadySent}`,
    );
  if (parts.some((p) => p.previouslyUploaded && p.status !== 'uploaded'))
    out.push('a part marked as uploaded earlier is not uploaded');
  const delivered = rows.sent + rows.alreadySent;
  const skipped = rows.skippedAlreadySent ?? 0;
  if (delivered + skipped > rows.valid)
    out.push(`rows sent ${delivered} + skipped ${skipped} > rows.valid ${rows.valid}`);
  if (report.outcome === 'success') {
    if (rows.invalid > 0) out.push(`${rows.invalid} invalid rows in a successful run`);
    if (report.issueCounts.errors > 0)
      out.push(`${report.issueCounts.errors} errors in a successful run`);
    const inParts = parts.reduce((n, p) => n + p.rows, 0);
    if (parts.length > 0 && inParts + skipped !== rows.valid)
      out.push(`parts hold ${inParts} rows, ${rows.valid - skipped} are valid and not skipped`);
    if (report.command === 'send' && !report.dryRun) {
      if (delivered + skipped !== rows.valid)
        out.push(`${delivered} rows sent and ${skipped} skipped of ${rows.valid} valid`);
      if (parts.some((p) => p.status !== 'uploaded')) out.push('a part is not uploaded');
    }
  }
  const numbers = parts.map((p) => p.number);
  if (numbers.some((n, i) => n !== i + 1)) out.push('parts are not numbered 1..n');
  return out;
}

/** Groups retained issues by code: count (complete) and up to `examples` lines. */
export function topIssues(
  report: Report,
  limit = 12,
  examples = 5,
): {
  code: IssueCode;
  count: number;
  /** Example places as "line 3 (payload.variables.amount)". */
  places: string[];
  sample: Issue | undefined;
}[] {
  // Errors before warnings, then the most frequent first.
  return (Object.entries(report.issueCounts.byCode) as [IssueCode, number][])
    .sort(
      (a, b) =>
        Number(ISSUE_CODES[a[0]] === 'warning') - Number(ISSUE_CODES[b[0]] === 'warning') ||
        b[1] - a[1],
    )
    .slice(0, limit)
    .map(([code, count]) => {
      const matching = report.issues.filter((i) => i.code === code);
      const places = [...new Set(matching.map(issuePlace))].slice(0, examples);
      return {
        code,
        count,
        places,
        sample: matching[0],
      };
    });
}

/** Where an issue is, for people: "line 3 (payload.variables.amount)". */
export function issuePlace(issue: Issue): string {
  const at = issue.file !== undefined ? `${issue.file}:${issue.line}` : `line ${issue.line}`;
  return `${at}${issue.column !== null ? ` (${issue.column})` : ''}`;
}
