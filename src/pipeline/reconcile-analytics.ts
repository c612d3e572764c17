/**
 * `reconcile --source analytics` (SPEC 6.1): the run's rows joined with the events of
 * Atomic's hourly analytics export by flowInvocationId. Each look lists the export's
 * files from the run's start to now, streams every one through the tolerant reader into
 * the on-disk join (reconcile/analytics-join.ts) and counts the rows by outcome; with
 * --wait it looks again while rows have no outcome and the export does not yet cover a
 * whole period after the run ended. Memory stays at the join's chunks whatever the rows.
 */
import type { CardsApi } from '../api/client.js';
import { downloadExportFile, type ExportFile, type ExportFormat } from '../api/analytics.js';
import { AtomicBulkError, isAtomicBulkError } from '../model/errors.js';
import type { AnalyticsReconcile } from '../model/report.js';
import { sleep } from '../model/retry.js';
import { makeOwnedTempDir, removeOwnedTempDir } from '../files/private-files.js';
import type { Cursor } from '../files/sorted-runs.js';
import {
  emptyStats,
  readCsvEvents,
  readNdjson,
  type EventStats,
} from '../reconcile/analytics-events.js';
import {
  AnalyticsJoin,
  EVENT_WIDTH,
  eventSorter,
  sortRunRows,
  type JoinCounts,
} from '../reconcile/analytics-join.js';
import { addStats, ExportCache } from '../reconcile/export-cache.js';
import { runStartedAt, type SentRun } from '../reconcile/run-source.js';

/**
 * One look of reconcile: rows with cards (Cards API) or with an event (export), and the
 * cards or events found.
 */
export interface ReconcilePoll {
  poll: number;
  rows: number;
  withCards: number;
  cards: number;
  source: 'cards' | 'analytics';
}

/** A span the export answers at most (SPEC 6.1). */
const MAX_SPAN_MS = 30 * 24 * 3600 * 1000;

export interface AnalyticsLookOptions {
  api: CardsApi;
  format?: ExportFormat;
  waitMs: number;
  intervalMs: number;
  signal?: AbortSignal;
  now: () => Date;
  /** Events before this (ms) are an earlier send's. */
  notBefore: number | null;
  onPoll?: (poll: ReconcilePoll) => void;
}

/** The outcome of the last look: rows in the run's order, and what the export held. */
export interface AnalyticsLook {
  rows: Cursor;
  counts: JoinCounts;
  stats: EventStats;
  files: ExportFile[];
  coveredThrough: number | null;
  polls: number;
  waitedMs: number;
  requests: number;
  /** Removes the look's files on disk. */
  dispose(): Promise<void>;
}

/** The listing of the export for the run, or the reason it cannot be used. */
export async function listExport(
  api: CardsApi,
  run: SentRun,
  format: ExportFormat,
  now: Date,
): Promise<ExportFile[]> {
  if (api.listAnalyticsExport === undefined)
    throw new AtomicBulkError('USAGE', 'This connection does not offer the analytics export.');
  const from = exportFrom(run);
  const to = new Date(Math.min(now.getTime(), from.getTime() + MAX_SPAN_MS));
  if (to <= from) return [];
  return api.listAnalyticsExport(from, to, format);
}

/** The export is asked from the run's first start (less the clock-skew margin). */
export function exportFrom(run: SentRun): Date {
  return new Date(runStartedAt(run) ?? Date.now());
}

/**
 * Until when the files cover the time from `from` without a gap (`from` itself when the
 * first file starts later); null when a file does not say which period it holds.
 */
export function coverage(files: readonly ExportFile[], from: number): number | null {
  if (files.some((f) => f.from === null || f.to === null)) return null;
  const sorted = [...files].sort((a, b) => (a.from as number) - (b.from as number));
  let through = from;
  for (const f of sorted) {
    if ((f.from as number) > through) break;
    through = Math.max(through, f.to as number);
  }
  return through;
}

/**
 * Why --source auto cannot use the export, from the listing's error, or null when the
 * error should stop the command (an interruption). Any refusal, an unreadable answer or a
 * server error after retries sends auto to the Cards API: the export's endpoint and shape
 * are assumed (SPEC 6.1), the Cards API's are documented.
 */
export function exportUnavailable(error: unknown): string | null {
  const fallback = ['API', 'USAGE', 'NOT_FOUND', 'AUTH'];
  if (!isAtomicBulkError(error) || !fallback.includes(error.code)) return null;
  const status = error.context.status;
  return status === 404 || status === 405 || status === 501
    ? 'the analytics export is not offered here'
    : `the analytics export could not be listed (${status === undefined ? 'no usable answer' : `HTTP ${status}`})`;
}

/** When the run's last part was accepted (ms), or its report's end. */
export function runEnd(run: SentRun): number {
  const at = Date.parse(run.report.destination?.sentInFullAt ?? run.report.finishedAt);
  return Number.isNaN(at) ? Date.now() : at;
}

/**
 * Looks at the export, again every interval while --wait lasts and rows lack an outcome.
 * It stops early once a period that ends a whole period after the run's last part came
 * in and brought no event of the run: Atomic has then processed what it will (a large
 * upload is still being processed for a while after it was accepted).
 */
export async function lookAtExport(
  run: SentRun,
  options: AnalyticsLookOptions,
): Promise<AnalyticsLook> {
  const started = options.now().getTime();
  const settled = runEnd(run);
  let requests = 0;
  let before = { covered: -Infinity, withCards: -1 };
  // The last look, kept while waiting: a listing of the same periods is answered by it.
  let kept: { periods: string | null; look: Joined } | null = null;
  const cache = await ExportCache.open(EVENT_WIDTH);
  try {
    // The run's rows, sorted once for every look (they live in the cache's folder).
    const rows = await sortRunRows(run.invocationsPath, cache.dir);
    for (let poll = 1; ; poll++) {
      const files = await listExport(options.api, run, options.format ?? 'ndjson', options.now());
      requests += 1;
      const periods = periodsOf(files);
      let look: Joined;
      if (kept !== null && periods !== null && kept.periods === periods) look = kept.look;
      else {
        await kept?.look.dispose();
        kept = null;
        look = await joinOnce(run, files, { ...options, cache, rows });
        requests += look.downloads;
      }
      kept = { periods, look };
      const covered = coverage(files, exportFrom(run).getTime());
      const withCards = run.rows - look.counts.byOutcome.none;
      options.onPoll?.({
        poll,
        rows: run.rows,
        withCards,
        cards: look.counts.matched,
        source: 'analytics',
      });
      const waited = options.now().getTime() - started;
      const period = periodOf(files);
      const quiet =
        covered !== null &&
        period !== null &&
        before.covered >= settled + period &&
        covered > before.covered &&
        withCards === before.withCards;
      if (withCards === run.rows || waited >= options.waitMs || quiet) {
        kept = null;
        return { ...look, files, coveredThrough: covered, polls: poll, waitedMs: waited, requests };
      }
      before = { covered: covered ?? -Infinity, withCards };
      await sleep(Math.min(options.intervalMs, options.waitMs - waited), options.signal);
    }
  } finally {
    await kept?.look.dispose();
    await cache.close();
  }
}

/** A look's join, before the wait around it. */
type Joined = Awaited<ReturnType<typeof joinOnce>>;

/**
 * The files a listing names, as a key: an exported period does not change once listed
 * (SPEC 6.1: an hour is exported once it has ended), so a listing of the same files
 * would be answered as the last look was, without downloading a file again. Null when a
 * file does not say its period (such a listing is always read).
 */
export function periodsOf(files: readonly ExportFile[]): string | null {
  const keys = files.map(periodKey);
  if (keys.includes(null)) return null;
  return keys.sort().join(',');
}

/** The length of the export's periods (its shortest file), or null. */
function periodOf(files: readonly ExportFile[]): number | null {
  let period: number | null = null;
  for (const f of files)
    if (f.from !== null && f.to !== null && f.to > f.from)
      period = Math.min(period ?? Infinity, f.to - f.from);
  return period;
}

/**
 * One look: the run's rows joined with the events of every listed file — downloaded now,
 * or kept from an earlier look when its period was read before (`cache`).
 */
async function joinOnce(
  run: SentRun,
  files: readonly ExportFile[],
  options: AnalyticsLookOptions & { cache: ExportCache; rows: readonly string[] },
): Promise<
  Omit<AnalyticsLook, 'files' | 'coveredThrough' | 'polls' | 'waitedMs' | 'requests'> & {
    downloads: number;
  }
> {
  const { cache } = options;
  await cache.keepOnly(new Set(files.map(periodKey).filter((p) => p !== null)));
  const dir = await makeOwnedTempDir('reconcile');
  const dispose = () => removeOwnedTempDir(dir);
  try {
    const join = new AnalyticsJoin(dir, options.notBefore);
    let unkept = emptyStats();
    let downloads = 0;
    for (const file of files) {
      const period = periodKey(file);
      if (period !== null && cache.has(period)) continue;
      downloads++;
      const stats = emptyStats();
      // A file of a known period goes to a sorter of its own, kept for later looks.
      const into = period === null ? undefined : eventSorter(cache.dir);
      const each = (kind: number, id: string, at: number) => join.addEvent(kind, id, at, into);
      const body = downloadExportFile(file.url, options.signal);
      if (file.format === 'csv') await readCsvEvents(body, stats, each);
      else await readNdjson(body, stats, each);
      if (period === null || into === undefined) unkept = addStats(unkept, stats);
      else await cache.add(period, await into.seal(), stats);
    }
    const stats = addStats(cache.counted(), unkept);
    if (stats.lines > 0 && stats.events === 0 && stats.unreadable === stats.lines)
      throw new AtomicBulkError(
        'API',
        `No line of the analytics export could be read (keys of the first: ${stats.unreadableKeys ?? 'none'}).`,
        { hint: 'Run reconcile with --source cards, and report the keys above as an issue.' },
      );
    const { rows, counts } = await join.join({ events: cache.cursors(), rows: options.rows });
    return { rows, counts, stats, dispose, downloads };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * A file as a key: its period and where it lives without the signature (an hour may come
 * as several files; a signed URL's query changes at every listing). Null when the file
 * does not say its period.
 */
function periodKey(f: ExportFile): string | null {
  if (f.from === null || f.to === null) return null;
  let where: string;
  try {
    const url = new URL(f.url);
    where = `${url.origin}${url.pathname}`;
  } catch {
    return null;
  }
  return `${f.format}:${f.from}-${f.to}:${where}`;
}

/** The report's account of the export, from the look and the rows' results. */
export function analyticsSummary(
  look: AnalyticsLook,
  format: ExportFormat,
  rows: { first: number | null; last: number | null; engagement: AnalyticsReconcile['engagement'] },
): AnalyticsReconcile {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    format,
    files: look.files.length,
    coveredThrough: iso(look.coveredThrough),
    firstEvent: iso(rows.first),
    lastEvent: iso(rows.last),
    lines: look.stats.lines,
    events: look.stats.events,
    matched: look.counts.matched,
    earlier: look.counts.earlier,
    otherKinds: look.stats.otherKinds,
    withoutId: look.stats.withoutId,
    unreadable: look.stats.unreadable,
    unreadableKeys: look.stats.unreadableKeys,
    engagement: rows.engagement,
  };
}
