/**
 * What a person reads in a report, independent of format: report.md and report.html
 * render this same view, so they never disagree. Plain strings only; each renderer
 * escapes for its own format.
 */
import { ISSUE_CODES } from '../model/issue.js';
import type { AnalyticsReconcile, PartStatus, ReconcileSection, Report } from '../model/report.js';
import { issuePlace, topIssues } from './report.js';

const HEADLINES: Record<Report['outcome'], string> = {
  success: 'Success',
  invalid: 'Invalid input',
  partial: 'Partly sent',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

export interface Column {
  title: string;
  /** Right-aligned. */
  numeric: boolean;
}

export interface Table {
  columns: Column[];
  rows: string[][];
}

/** Column list from titles; a title written `n:title` is numeric. */
function columns(...titles: string[]): Column[] {
  return titles.map((t) =>
    t.startsWith('n:') ? { title: t.slice(2), numeric: true } : { title: t, numeric: false },
  );
}

export interface ReportView {
  title: string;
  outcome: Report['outcome'];
  /** The outcome in one sentence, with the exit code. */
  summary: string;
  nextStep: string;
  overview: Table;
  rows: Table;
  /** Header and file-level errors, which block any send; null when there are none. */
  fileProblems: Table | null;
  issuesTitle: string;
  issues: Table | null;
  issuesNote: string | null;
  /** Issue counts by code, errors first, for the chart. */
  issueChart: { label: string; value: number; severity: 'error' | 'warning' }[];
  parts: Table | null;
  /** Part counts by status, for the chart. */
  partChart: { label: PartStatus; value: number }[];
  /** From `reconcile` and `cancel`, when they ran: title and table. */
  after: { title: string; table: Table }[];
  files: string[];
}

/**
 * After reconcile or cancel: the campaign as it now stands, so a report headed "Success"
 * (the send's outcome) also says what became of the rows since.
 */
function campaignState(report: Report): string {
  const parts: string[] = [];
  const r = report.reconcile;
  if (r !== undefined) {
    const delivered = r.rowsByOutcome?.delivered ?? r.rowsByOutcome?.published ?? r.withCards;
    parts.push(
      `${count(delivered)} of ${plural(r.rows, 'row')} checked ${r.source === 'analytics' ? 'published' : 'delivered'} (${r.checkedAt})`,
    );
  }
  const history = report.cancels ?? (report.cancel !== undefined ? [report.cancel] : []);
  const applied = history.filter((h) => h.applied);
  if (applied.length > 0) {
    const cancelled = applied.reduce((n, h) => n + h.cancelled, 0);
    parts.push(`${plural(cancelled, 'card')} cancelled in ${plural(applied.length, 'cancel')}`);
  }
  return parts.length === 0 ? '' : ` Since the send: ${parts.join('; ')}.`;
}

/** The outcome in one sentence, as printed at the end of a run and on top of report.md. */
export function summaryLine(report: Report): string {
  const { rows } = report;
  const head = `${HEADLINES[report.outcome]}:`;
  const valid = `${count(rows.valid)} of ${plural(rows.total, 'row')} valid`;
  if (report.command === 'validate') {
    return rows.invalid === 0 && report.issueCounts.errors === 0
      ? `${head} ${rows.total === 1 ? 'the row is' : `all ${count(rows.total)} rows are`} valid${warnings(report)}.`
      : `${head} ${plural(report.issueCounts.errors, 'error')}; ${valid}.`;
  }
  if (report.command === 'split')
    return `${head} ${plural(rows.valid, 'row')} in ${plural(report.parts.length, 'part')}; ${valid}.`;
  if (report.dryRun)
    return `${head} dry run, nothing sent; ${valid}, ${plural(report.parts.length, 'part')} prepared.`;
  const now = report.parts.filter((p) => p.status === 'uploaded' && !p.previouslyUploaded);
  const earlier = report.parts.filter((p) => p.previouslyUploaded);
  if (now.length === 0 && earlier.length > 0 && earlier.length === report.parts.length) {
    const on = report.destination?.sentInFullAt ? ` on ${report.destination.sentInFullAt}` : '';
    return `${head} nothing uploaded: this run was already sent in full${on}; ${valid}.`;
  }
  const before =
    earlier.length > 0
      ? `, ${plural(rows.alreadySent, 'row')} in ${plural(earlier.length, 'part')} already sent earlier`
      : '';
  // A run that stopped early has cut only some of its parts: "of N" would name a total
  // that is not the run's.
  const stopped = report.outcome === 'interrupted' || report.outcome === 'failed';
  const of =
    now.length === report.parts.length
      ? plural(now.length, 'part')
      : stopped
        ? `${count(now.length)} of the ${plural(report.parts.length, 'part')} cut so far`
        : `${count(now.length)} of ${plural(report.parts.length, 'part')}`;
  const skipped =
    report.campaign !== undefined && (rows.skippedAlreadySent ?? 0) > 0
      ? `, ${plural(rows.skippedAlreadySent ?? 0, 'row')} skipped as sent already in campaign ${report.campaign.name}`
      : '';
  if (report.parts.length === 0 && report.campaign !== undefined)
    return `${head} nothing to send: every valid row's key was sent already in campaign ${report.campaign.name}; ${valid}.`;
  return `${head} ${plural(rows.sent, 'row')} sent in ${of}${before}${skipped}; ${valid}.`;
}

export function reportView(report: Report): ReportView {
  const top = topIssues(report);
  return {
    title: `atomic-bulk ${report.command}: ${HEADLINES[report.outcome]}`,
    outcome: report.outcome,
    summary: `${summaryLine(report)} Exit code ${report.exitCode}.${campaignState(report)}`,
    nextStep: report.nextStep,
    overview: overviewTable(report),
    rows: rowsTable(report.rows),
    fileProblems: fileProblemsTable(report),
    issuesTitle: `Issues (${report.issueCounts.errors} errors, ${report.issueCounts.warnings} warnings)`,
    issues: issuesTable(top),
    issuesNote: report.issuesTruncated
      ? `Only the first ${report.issues.length} issues are listed in report.json; the counts are complete.`
      : null,
    issueChart: top.map((t) => ({ label: t.code, value: t.count, severity: ISSUE_CODES[t.code] })),
    parts: partsTable(report.parts),
    partChart: PART_STATUSES.map((s) => ({
      label: s,
      value: report.parts.filter((p) => p.status === s).length,
    })).filter((s) => s.value > 0),
    after: afterSend(report),
    files: filesList(report),
  };
}

const PART_STATUSES: PartStatus[] = ['uploaded', 'failed', 'uploading', 'pending'];

function overviewTable(report: Report): Table {
  const flow =
    report.flow.flowConfigId === null
      ? '–'
      : `${report.flow.flowConfigId} (version ${report.flow.version ?? '?'}${report.flow.mode ? `, ${report.flow.mode}` : ''})`;
  return {
    columns: columns('input', 'flow', 'run id', 'started', 'took'),
    rows: [
      [
        `${report.input.source} (${report.input.bytes} bytes)`,
        flow,
        report.runId ?? '–',
        report.startedAt,
        `${(report.durationMs.total / 1000).toFixed(1)} s`,
      ],
    ],
  };
}

function rowsTable(r: Report['rows']): Table {
  return {
    columns: columns(
      'n:total',
      'n:valid',
      'n:invalid',
      'n:blank lines',
      'n:sent now',
      'n:sent earlier',
    ),
    rows: [[r.total, r.valid, r.invalid, r.blank, r.sent, r.alreadySent].map(count)],
  };
}

/** Errors about the file or its header (the first 20), which block sending. */
function fileProblemsTable(report: Report): Table | null {
  const fileIssues = report.issues
    .filter((i) => i.record === 0 && i.severity === 'error')
    .slice(0, 20);
  if (fileIssues.length === 0) return null;
  return {
    columns: columns('n:line', 'column', 'problem', 'what to do'),
    rows: fileIssues.map((i) => [
      i.file !== undefined ? `${i.file}:${i.line}` : String(i.line),
      i.column ?? '–',
      i.message,
      i.hint,
    ]),
  };
}

function issuesTable(top: ReturnType<typeof topIssues>): Table | null {
  if (top.length === 0) return null;
  return {
    columns: columns('code', 'n:count', 'where (examples)', 'what to do'),
    rows: top.map((t) => [
      t.code,
      String(t.count),
      t.places.join(', ') || '–',
      t.sample?.hint || t.sample?.message || '',
    ]),
  };
}

function partsTable(parts: Report['parts']): Table | null {
  if (parts.length === 0) return null;
  return {
    columns: columns('n:#', 'n:rows', 'n:bytes', 'lines', 'status', 'n:attempts', 'task id'),
    rows: parts.map((p) => [
      String(p.number),
      String(p.rows),
      String(p.bytes),
      `${p.firstLine}–${p.lastLine}`,
      `${p.status}${p.previouslyUploaded ? ' (earlier)' : ''}${p.error ? ` (${p.error})` : ''}`,
      String(p.attempts),
      p.taskId ?? '–',
    ]),
  };
}

/** The files beside the report, each with what it is for. */
function filesList(report: Report): string[] {
  return [
    report.files.rejected && 'rejected.csv (rows to fix and send again)',
    report.files.invocations && 'invocations.csv (line → flowInvocationId of every sent row)',
    report.reconcile &&
      (report.reconcile.source === 'analytics'
        ? 'reconciled.csv (line, flowInvocationId, outcome, first and last event, engagement)'
        : 'reconciled.csv (line, flowInvocationId, cards and their statuses)'),
    report.campaign?.skippedFile &&
      'skipped.csv (rows not sent: their key was sent already, and when)',
  ].filter((f): f is string => typeof f === 'string' && f !== '');
}

function byStatus(counts: Record<string, number>): string {
  const text = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([status, n]) => `${status} ${count(n)}`)
    .join(', ');
  return text === '' ? '–' : text;
}

const HOW: Record<ReconcileSection['strategy'], string> = {
  'per-id': 'one query per row',
  template: 'the flow’s cards, paged and matched',
  sample: 'a random sample',
  analytics: 'the analytics export’s events, joined to the rows',
};

function exportText(a: AnalyticsReconcile): string {
  const unread =
    a.unreadable > 0
      ? `; ${count(a.unreadable)} unreadable lines (keys: ${a.unreadableKeys ?? '–'})`
      : '';
  return `${plural(a.files, 'file')} (${a.format}) covering until ${a.coveredThrough ?? 'an unknown time'}; ${count(a.events)} events, ${count(a.matched)} matched to this run's rows${a.earlier > 0 ? `, ${count(a.earlier)} from an earlier send` : ''}${unread}`;
}

/** Outcome columns in the order a campaign manager reads them; the others after. */
const OUTCOME_ORDER = [
  'delivered',
  'published',
  'error',
  'cancelled',
  'expired',
  'embargoed',
  'reused',
  'other',
  'none',
];
const OUTCOME_TITLE: Record<string, string> = { none: 'none yet' };

/** Rows by outcome, per part and overall; null when reconcile did not record them. */
function outcomeTable(r: ReconcileSection): Table | null {
  const overall = r.rowsByOutcome;
  if (overall === undefined || r.sample !== null) return null;
  const keys = OUTCOME_ORDER.filter((k) => k in overall);
  const line = (label: string, rows: number, by: Record<string, number>) => [
    label,
    count(rows),
    ...keys.map((k) => count(by[k] ?? 0)),
  ];
  const rows = (r.byPart ?? []).map((p) => line(String(p.part), p.rows, p.byOutcome));
  rows.push(line('All', r.rows, overall));
  return {
    columns: columns('Part', 'n:Rows', ...keys.map((k) => `n:${OUTCOME_TITLE[k] ?? k}`)),
    rows,
  };
}

/** What happened when: the send, its parts, what Atomic did, and what came after. */
function timeline(report: Report): Table {
  const events: [string, string][] = [];
  const d = report.destination;
  if (d?.resumedFrom !== null && d?.resumedFrom !== undefined)
    events.push([d.resumedFrom, 'run first started']);
  events.push([report.startedAt, `${report.command} started`]);
  const t = report.durationMs;
  const at = (ms: number) => new Date(Date.parse(report.startedAt) + ms).toISOString();
  if (report.command === 'send' && t.validate > 0) events.push([at(t.validate), 'input validated']);
  if (d?.sentInFullAt !== null && d?.sentInFullAt !== undefined)
    events.push([d.sentInFullAt, 'last part accepted: every part sent']);
  events.push([report.finishedAt, `${report.command} finished: ${report.outcome}`]);
  const a = report.reconcile?.analytics;
  if (a?.firstEvent) events.push([a.firstEvent, 'first card event of the run (analytics)']);
  if (a?.lastEvent) events.push([a.lastEvent, 'last card event of the run (analytics)']);
  if (report.reconcile !== undefined)
    events.push([report.reconcile.checkedAt, `reconciled: ${report.reconcile.outcome}`]);
  for (const c of report.cancels ?? (report.cancel !== undefined ? [report.cancel] : []))
    events.push([
      c.at,
      c.applied ? `cancel: ${plural(c.cancelled, 'card')}` : 'cancel counted (not applied)',
    ]);
  events.sort((x, y) => Date.parse(x[0]) - Date.parse(y[0]));
  return { columns: columns('When (UTC)', 'What'), rows: events };
}

/** The reconcile, cancel and notification sections, as tables. */
type Section = { title: string; table: Table };

/** What happened after the send: campaign, reconcile, cancel, timeline, notifications. */
function afterSend(report: Report): Section[] {
  const out: Section[] = [];
  if (report.campaign !== undefined) out.push(...campaignSection(report.campaign));
  if (report.reconcile !== undefined) out.push(...reconcileSections(report.reconcile));
  if (report.cancel !== undefined) out.push(...cancelSection(report.cancel, report.cancels));
  if (report.parts.some((p) => p.status === 'uploaded'))
    out.push({ title: 'Timeline', table: timeline(report) });
  const told = report.notifications ?? [];
  if (told.length > 0)
    out.push({
      title: 'Notifications',
      table: {
        columns: columns('To', 'Outcome'),
        rows: told.map((n) => [
          n.to,
          n.ok
            ? 'delivered'
            : `failed after ${n.attempts} attempt${n.attempts === 1 ? '' : 's'}: ${n.error ?? ''}`,
        ]),
      },
    });
  return out;
}

function campaignSection(camp: NonNullable<Report['campaign']>): Section[] {
  const rows: string[][] = [
    ['Campaign', `${camp.name} (key: ${camp.keyColumns.join(' + ')}; once per ${camp.oncePer})`],
    ['Skipped, sent in an earlier run', count(camp.skippedAlreadySent)],
    ['Skipped, key repeated in this file', count(camp.skippedRepeated)],
    ['Sent again (last sent longer ago than once-per)', count(camp.sentAgain)],
    ['Ledger entries', count(camp.ledgerEntries)],
  ];
  if (camp.pace !== null)
    rows.push([
      'Pace',
      `${count(camp.pace.rows)} rows per ${camp.pace.slotMs === 60_000 ? 'minute' : 'hour'}, ${plural(camp.pace.slots, 'slot')}, last due ${camp.pace.expectedEnd}`,
    ]);
  if (camp.window !== null)
    rows.push(['Window', `${camp.window.from}–${camp.window.to} ${camp.window.timeZone}`]);
  return [{ title: 'Campaign', table: { columns: columns('', ''), rows } }];
}

function reconcileSections(r: ReconcileSection): Section[] {
  const rows: string[][] = [
    ['Checked', r.checkedAt],
    ['How', HOW[r.strategy] + (r.sourceReason === undefined ? '' : ` (${r.sourceReason})`)],
    ['Rows checked', count(r.rows)],
    ['Rows with cards of this run', count(r.withCards)],
    ['Rows without a card', count(r.withoutCards)],
    ['Rows by outcome', r.rowsByOutcome === undefined ? '–' : byStatus(r.rowsByOutcome)],
    ['Cards by status', byStatus(r.cardsByStatus)],
  ];
  if (r.sample !== null)
    rows.push([
      'Delivered share (95 % interval)',
      `${(r.sample.share * 100).toFixed(1)} % (${(r.sample.low * 100).toFixed(1)}–${(r.sample.high * 100).toFixed(1)} %) of ${count(r.sample.runRows)} rows`,
    ]);
  if (r.analytics !== undefined)
    rows.push(
      ['Export read', exportText(r.analytics)],
      [
        'Engagement (rows)',
        `displayed ${count(r.analytics.engagement.displayed)}, completed ${count(r.analytics.engagement.completed)}, dismissed ${count(r.analytics.engagement.dismissed)}`,
      ],
    );
  const out = [{ title: 'Delivery (reconcile)', table: { columns: columns('', ''), rows } }];
  const outcomes = outcomeTable(r);
  if (outcomes !== null) out.push({ title: 'Outcomes by part', table: outcomes });
  return out;
}

function cancelSection(c: NonNullable<Report['cancel']>, cancels: Report['cancels']): Section[] {
  const rows: string[][] = [
    ['When', c.at],
    ['Applied', c.applied ? 'yes' : 'no (without --yes nothing is changed)'],
    [
      'Scope',
      [c.scope.status && `status ${c.scope.status}`, c.scope.userId && 'one user']
        .filter(Boolean)
        .join(', ') || 'every card of the run',
    ],
    ['Rows with cards in scope', `${count(c.rowsMatched)} of ${count(c.rows)}`],
    ['Cards in scope', count(c.cardsMatched)],
    ['Cancelled', count(c.cancelled)],
  ];
  const history = cancels ?? [c];
  if (history.length > 1)
    rows.push([
      'Every cancel of this run',
      history
        .map((h) => `${h.at}: ${h.applied ? `${count(h.cancelled)} cancelled` : 'counted only'}`)
        .join('; '),
    ]);
  return [{ title: 'Cancel', table: { columns: columns('', ''), rows } }];
}

function warnings(report: Report): string {
  const n = report.issueCounts.warnings;
  return n > 0 ? ` (${plural(n, 'warning')})` : '';
}

/** A count with thousands separators: 32,000,000. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 part", "2 parts", "1,200 rows". */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** Rows' issues printed on the terminal when a run fails validation. */
const DIGEST_ROW_ISSUES = 10;

/**
 * What the terminal shows when a run found errors, so the user need not open report.md:
 * every header and file problem, the first rows' issues (line, column, code, message), and
 * the count by code. Plain text; remote or user text is the caller's to sanitise.
 */
export function issueDigest(report: Report): string[] {
  if (report.issueCounts.errors === 0) return [];
  const out: string[] = [];
  const fileIssues = report.issues.filter((i) => i.record === 0 && i.severity === 'error');
  if (fileIssues.length > 0) {
    out.push('Header and file problems (nothing can be sent until they are fixed):');
    for (const i of fileIssues) out.push(`  ${issuePlace(i)}: ${i.code}: ${i.message} ${i.hint}`);
  }
  const rowIssues = report.issues.filter((i) => i.record > 0 && i.severity === 'error');
  if (rowIssues.length > 0) {
    out.push(`First row problems (all are in ${report.files.rejected ?? 'the report'}):`);
    for (const i of rowIssues.slice(0, DIGEST_ROW_ISSUES))
      out.push(`  ${issuePlace(i)}: ${i.code}: ${i.message}`);
  }
  const counts = topIssues(report, 20, 0).map((t) => `${t.code} ${count(t.count)}`);
  out.push(`Issues by code: ${counts.join(', ')}.`);
  return out;
}
