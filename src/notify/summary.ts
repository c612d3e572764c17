/**
 * What a notification says (SPEC 9): a JSON summary of the command that ran — run id,
 * flow, environment, mode, status, exit code, counts, where the report is — and a `text`
 * a Slack incoming webhook shows as it is. Counts and names only: no cell value, no secret.
 */
import type { Report } from '../model/report.js';
import { printable } from '../model/redact.js';
import { summaryLine } from '../report/report-view.js';
import { TOOL_VERSION } from '../version.js';

export type NotifyCommand = 'send' | 'reconcile' | 'cancel';

export interface Summary {
  tool: 'atomic-bulk';
  version: string;
  command: NotifyCommand;
  runId: string | null;
  campaign: string | null;
  flow: string | null;
  environment: string | null;
  mode: string | null;
  status: string;
  exitCode: number;
  counts: Record<string, number>;
  /** Where the report is: the folder or s3:// prefix as given; null when none was written. */
  report: string | null;
  /** When this summary was made (signed with the body: a receiver can refuse old ones). */
  sentAt: string;
  /** Why the command failed, when it failed before writing a report. */
  error?: string;
  text: string;
}

const n = (v: number) => v.toLocaleString('en-US');

/** What the command did, from the report it wrote. */
function outcomeOf(
  command: NotifyCommand,
  report: Report,
): { status: string; exitCode: number; counts: Record<string, number>; headline: string } {
  if (command === 'reconcile' && report.reconcile !== undefined) {
    const s = report.reconcile;
    const delivered = s.rowsByOutcome?.delivered ?? s.withCards;
    return {
      status: s.outcome,
      exitCode: s.exitCode,
      counts: { rows: s.rows, withCards: s.withCards, cards: s.cards, ...s.rowsByOutcome },
      headline: `${n(delivered)} of ${n(s.rows)} rows delivered (${n(s.cards)} cards).`,
    };
  }
  if (command === 'cancel' && report.cancel !== undefined) {
    const s = report.cancel;
    return {
      status: s.applied ? 'cancelled' : 'counted',
      exitCode: s.exitCode,
      counts: {
        rows: s.rows,
        rowsMatched: s.rowsMatched,
        cardsMatched: s.cardsMatched,
        cancelled: s.cancelled,
      },
      headline: s.applied
        ? `${n(s.cancelled)} cards cancelled of ${n(s.rowsMatched)} rows in scope.`
        : `${n(s.cardsMatched)} cards in scope; nothing changed (no --yes).`,
    };
  }
  return {
    status: report.outcome,
    exitCode: report.exitCode,
    counts: { ...report.rows },
    headline: summaryLine(report),
  };
}

export function summaryOf(
  command: NotifyCommand,
  report: Report,
  location: string,
  now: Date,
): Summary {
  const { status, exitCode, counts, headline } = outcomeOf(command, report);
  const flow = report.flow.flowConfigId;
  const environment = report.destination?.environmentId ?? null;
  const where = [
    report.runId !== null ? `run ${report.runId.slice(0, 12)}` : null,
    flow !== null
      ? `flow ${flow}${report.flow.mode !== null ? ` (${report.flow.mode})` : ''}`
      : null,
    environment !== null ? `environment ${environment}` : null,
  ].filter((x) => x !== null);
  return {
    tool: 'atomic-bulk',
    version: TOOL_VERSION,
    command,
    runId: report.runId,
    campaign: null,
    flow,
    environment,
    mode: report.flow.mode,
    status,
    exitCode,
    counts,
    report: location,
    sentAt: now.toISOString(),
    text: printable(
      `atomic-bulk ${command}, exit ${exitCode}: ${headline} ${where.join(', ')}. Report: ${location}`,
    ),
  };
}

/** What to say when the command stopped before it wrote a report. */
export function failureSummary(
  command: NotifyCommand,
  failure: { exitCode: number; message: string },
  now: Date,
): Summary {
  const message = printable(failure.message);
  return {
    tool: 'atomic-bulk',
    version: TOOL_VERSION,
    command,
    runId: null,
    campaign: null,
    flow: null,
    environment: null,
    mode: null,
    status: 'failed',
    exitCode: failure.exitCode,
    counts: {},
    report: null,
    sentAt: now.toISOString(),
    error: message,
    text: `atomic-bulk ${command} failed, exit ${failure.exitCode}: ${message}`,
  };
}
