/**
 * The analytics side of `reconcile`: looks at the export (reconcile-analytics.ts), writes
 * reconciled.csv with each row's outcome, first and last event and engagement counts, and
 * the report's `reconcile` section with the outcome table by part.
 */
import type { CardsApi } from '../api/client.js';
import type { ExportFormat } from '../api/analytics.js';
import { EXIT } from '../model/outcome.js';
import type { ReportNotifier } from '../model/notify.js';
import type { AnalyticsReconcile, ReconcileSection } from '../model/report.js';
import { forEach } from '../files/sorted-runs.js';
import { ANALYTICS_OUTCOMES, decodeRow, ROW_WIDTH } from '../reconcile/analytics-join.js';
import { PartTally, type PartOutcomes } from '../reconcile/part-tally.js';
import { InvocationCursor, runStartedAt, type SentRun } from '../reconcile/run-source.js';
import type { Invocation } from '../reconcile/invocations-reader.js';
import { TextOut } from '../files/text-out.js';
import { IsoTimes } from '../model/iso-time.js';
import { csvField } from '../report/rejected-csv.js';
import type { ReportDir } from '../report/report-dir.js';
import { writeReport } from '../report/write-report.js';
import {
  analyticsSummary,
  lookAtExport,
  type AnalyticsLook,
  type ReconcilePoll,
} from './reconcile-analytics.js';

export interface ByAnalyticsOptions {
  api: CardsApi;
  format?: ExportFormat;
  waitMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
  now?: () => Date;
  notifier?: ReportNotifier;
  onPoll?: (poll: ReconcilePoll) => void;
}

/** What a reconcile ends with (pipeline/reconcile.ts's ReconcileResult). */
export interface ReconciledRun {
  section: ReconcileSection;
  folder: string;
  exitCode: number;
  /** The run's id and flow, as its report names them. */
  runId: string | null;
  flow: string | null;
}

const FILE = 'reconciled.csv';
const HEADER =
  'line,flowInvocationId,outcome,firstEvent,lastEvent,published,displayed,completed,dismissed,note\n';

const NOTES: Record<string, string> = {
  published: '',
  error: 'card-error: Atomic could not assemble the card (check the flow and the row’s variables)',
  cancelled: 'the card was cancelled',
  expired: 'the card expired',
  embargoed: 'the card is embargoed until its time',
  none: 'no event yet: the targets matched no user or more than 10, or the hour is not exported yet',
};

export async function reconcileByAnalytics(
  options: ByAnalyticsOptions,
  run: SentRun,
  dir: ReportDir,
  reason: string | null,
): Promise<ReconciledRun> {
  const now = options.now ?? (() => new Date());
  const format = options.format ?? 'ndjson';
  const look = await lookAtExport(run, {
    api: options.api,
    format,
    waitMs: options.waitMs ?? 0,
    intervalMs: options.intervalMs ?? 5000,
    signal: options.signal,
    now,
    notBefore: runStartedAt(run),
    onPoll: options.onPoll,
  });
  let written;
  try {
    written = await writeRows(dir, run, look);
  } finally {
    await look.dispose();
  }
  const section = sectionOf(run, look, written, { format, reason, checkedAt: now() });
  return finishReconcile(options, run, dir, section);
}

/** Adds the section to the run's report (report.json/md/html, told to --notify). */
export async function finishReconcile(
  options: { api: CardsApi; notifier?: ReportNotifier },
  run: SentRun,
  dir: ReportDir,
  section: ReconcileSection,
): Promise<ReconciledRun> {
  await writeReport(
    dir,
    { ...run.report, reconcile: section },
    options.api.sealer,
    options.notifier,
  );
  return {
    section,
    folder: run.folder,
    exitCode: section.exitCode,
    runId: run.report.runId,
    flow: run.report.flow.flowConfigId,
  };
}

function sectionOf(
  run: SentRun,
  look: AnalyticsLook,
  written: Written,
  how: { format: ExportFormat; reason: string | null; checkedAt: Date },
): ReconcileSection {
  const { format, reason } = how;
  const byOutcome = look.counts.byOutcome;
  const partial = byOutcome.published < run.rows;
  return {
    checkedAt: how.checkedAt.toISOString(),
    strategy: 'analytics',
    source: 'analytics',
    ...(reason !== null ? { sourceReason: reason } : {}),
    rows: run.rows,
    withCards: byOutcome.published,
    withoutCards: run.rows - byOutcome.published,
    cards: written.published,
    cardsByStatus: {},
    rowsByOutcome: { ...byOutcome },
    requests: look.requests,
    polls: look.polls,
    waitedMs: look.waitedMs,
    sample: null,
    outcome: partial ? 'partial' : 'delivered',
    exitCode: partial ? EXIT.partial : EXIT.success,
    file: FILE,
    byPart: written.byPart,
    analytics: analyticsSummary(look, format, written),
  };
}

interface Written {
  byPart: PartOutcomes[] | null;
  published: number;
  first: number | null;
  last: number | null;
  engagement: AnalyticsReconcile['engagement'];
}

/** reconciled.csv: invocations.csv and the rows' results read side by side, in order. */
async function writeRows(dir: ReportDir, run: SentRun, look: AnalyticsLook): Promise<Written> {
  const tally = new PartTally(run.report.parts, run.rows, ANALYTICS_OUTCOMES);
  const written: Written = {
    byPart: null,
    published: 0,
    first: null,
    last: null,
    engagement: { displayed: 0, completed: 0, dismissed: 0 },
  };
  const out = new TextOut(dir.stream(FILE));
  out.add(HEADER);
  const rows = new InvocationCursor(run.invocationsPath);
  const times = new IsoTimes();
  const iso = (ms: number | null) => (ms === null ? '' : times.format(ms));
  const writeRow = (buf: Buffer, at: number, row: Invocation | undefined) => {
    if (row === undefined) throw new Error('reconcile: more results than rows');
    const r = decodeRow(buf, at);
    tally.add(r.position, r.outcome);
    written.published += r.published;
    if (r.first !== null) written.first = Math.min(written.first ?? r.first, r.first);
    if (r.last !== null) written.last = Math.max(written.last ?? r.last, r.last);
    if (r.displayed > 0) written.engagement.displayed++;
    if (r.completed > 0) written.engagement.completed++;
    if (r.dismissed > 0) written.engagement.dismissed++;
    const full = out.add(
      `${csvField(row.line)},${csvField(row.id)},${r.outcome},${iso(r.first)},${iso(r.last)},${r.published},${r.displayed},${r.completed},${r.dismissed},${csvField(NOTES[r.outcome] ?? '')}\n`,
    );
    return full ? out.flush() : undefined;
  };
  try {
    await forEach(look.rows, ROW_WIDTH, (buf, at) => {
      const row = rows.take();
      if (row !== undefined) return writeRow(buf, at, row);
      return rows.more().then(() => writeRow(buf, at, rows.take()));
    });
    if (rows.take() !== undefined || (await rows.more()))
      throw new Error('reconcile: fewer results than rows');
  } finally {
    await rows.close();
  }
  await out.close();
  await dir.commit(FILE);
  written.byPart = tally.table();
  return written;
}
