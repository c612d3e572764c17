/**
 * `cancel`: cancels the cards a run created (SPEC 6), scoped by that run's invocation ids
 * and nothing wider. It first counts what it would cancel (the same matching as
 * reconcile), changes nothing without `yes`, and then cancels row by row — one scoped
 * request per id, repeated while a request cancels a full batch. Cancelled cards are not
 * cancelled again, so a second run (after an interruption, say) picks up where the first
 * stopped and a run that finished cancels nothing new.
 */
import { checkRange, DEFAULTS, LIMITS } from '../model/limits.js';
import type { ReportNotifier } from '../model/notify.js';
import type { CardsApi } from '../api/client.js';
import { MAX_CARDS_PER_REQUEST, type CardQuery } from '../api/cards.js';
import { AtomicBulkError } from '../model/errors.js';
import { EXIT } from '../model/outcome.js';
import type { CancelSection } from '../model/report.js';
import {
  checkByTemplate,
  checkPerId,
  Delivery,
  hasEarlierCardBits,
  discoverTemplates,
  eachLimited,
  persist,
} from '../reconcile/delivery.js';
import { invocations, type SentRun } from '../reconcile/run-source.js';
import { rowAt } from '../reconcile/row-cards.js';
import { runStartedAt, withSentRun } from './reconcile.js';
import type { ReportDir } from '../report/report-dir.js';
import { writeReport } from '../report/write-report.js';

export interface CancelOptions {
  /** A send's report folder, or its run id. */
  target: string;
  stateDir?: string;
  api: CardsApi;
  /** Cancel; without it, only count. */
  yes: boolean;
  /** Narrow the scope to cards with this status, or of this user. */
  status?: string;
  userId?: string;
  concurrency?: number;
  /** Runs up to this many rows are counted with one query per id. Default 2,000. */
  perIdMax?: number;
  signal?: AbortSignal;
  onProgress?: (done: { rows: number; of: number; cancelled: number }) => void;
  now?: () => Date;
  /** Tells the command's end (--notify); the report records how that went. */
  notifier?: ReportNotifier;
}

export interface CancelResult {
  section: CancelSection;
  folder: string;
  exitCode: number;
  /** The run's id and flow, as its report names them. */
  runId: string | null;
  flow: string | null;
}

export function cancel(options: CancelOptions): Promise<CancelResult> {
  if (options.concurrency !== undefined)
    checkRange('concurrency', options.concurrency, LIMITS.cardConcurrency);
  return withSentRun(options, (run, dir) => cancelRun(options, run, dir));
}

async function cancelRun(
  options: CancelOptions,
  run: SentRun,
  dir: ReportDir,
): Promise<CancelResult> {
  const now = options.now ?? (() => new Date());
  const narrow: CardQuery = {};
  if (options.status !== undefined) narrow.status = options.status;
  if (options.userId !== undefined) narrow.userId = options.userId;
  const perId = run.rows <= (options.perIdMax ?? 2000);
  // A template's look at a large run keeps its rows on disk: memory does not grow with it.
  const delivery = new Delivery(run.rows, runStartedAt(run), perId ? 'memory' : 'disk');
  const scope: Scope = { run, delivery, narrow };
  let rowsMatched: number, cardsMatched: number, cancelled: number;
  try {
    await countInScope(options, scope, perId);
    ({ rows: rowsMatched, cards: cardsMatched } = delivery.openScope());
    cancelled =
      options.yes && rowsMatched > 0 ? await cancelMatched(options, scope, rowsMatched) : 0;
  } finally {
    await delivery.close();
  }
  const section: CancelSection = {
    at: now().toISOString(),
    applied: options.yes,
    scope: { status: options.status ?? null, userId: options.userId ?? null },
    rows: run.rows,
    rowsMatched,
    cardsMatched,
    cardsByStatus: Object.fromEntries(delivery.byStatus),
    cancelled,
    requests: delivery.requests,
    exitCode: EXIT.success,
  };
  const earlier =
    run.report.cancels ?? (run.report.cancel !== undefined ? [run.report.cancel] : []);
  const cancels = [...earlier, section].slice(-100);
  await writeReport(
    dir,
    { ...run.report, cancel: section, cancels },
    options.api.sealer,
    options.notifier,
  );
  return {
    section,
    folder: run.folder,
    exitCode: EXIT.success,
    runId: run.report.runId,
    flow: run.report.flow.flowConfigId,
  };
}

/** What is in scope: the run's cards (narrowed by status or user) not cancelled yet. */
async function countInScope(options: CancelOptions, scope: Scope, perId: boolean): Promise<void> {
  const { run, delivery, narrow } = scope;
  const check = { api: options.api, delivery, signal: options.signal, narrow };
  if (perId) {
    const rows: { position: number; id: string }[] = [];
    for await (const { id } of invocations(run.invocationsPath))
      rows.push({ position: rows.length, id });
    await checkPerId(check, rows, options.concurrency ?? DEFAULTS.cancelConcurrency);
    return;
  }
  const templates = await discoverTemplates(options.api, run, delivery);
  await checkByTemplate(check, templates, run);
}

/** The run, its rows' cards as counted, and the narrowing (--status, --user-id). */
interface Scope {
  run: SentRun;
  delivery: Delivery;
  narrow: CardQuery;
}

/**
 * Cancels the matched rows' cards, one scoped request per row (repeated while a request
 * hits the per-request limit), reading ids ahead in small batches so memory stays
 * bounded on large runs. Returns the cards cancelled.
 */
async function cancelMatched(
  options: CancelOptions,
  { run, delivery, narrow }: Scope,
  rowsMatched: number,
): Promise<number> {
  let cancelled = 0;
  let done = 0;
  const cancelRow = async ({ id, open }: { id: string; open: number }) => {
    // A row had `open` cards when counted; a cancel that keeps answering full batches past
    // that is not shrinking its scope, and stops with an error instead of looping.
    const most = Math.ceil(open / MAX_CARDS_PER_REQUEST) + 2;
    for (let request = 1; ; request++) {
      if (request > most) throw notShrinking(open);
      delivery.requests++;
      const n = await persist(
        () =>
          options.api.cancelCards(
            { flowInvocationId: id, ...(narrow as { status?: string; userId?: string }) },
            MAX_CARDS_PER_REQUEST,
          ),
        options.signal,
      );
      cancelled += n;
      if (n < MAX_CARDS_PER_REQUEST) break;
    }
    done++;
  };
  const batch: { id: string; open: number }[] = [];
  const flush = async () => {
    await eachLimited(
      batch.splice(0),
      options.concurrency ?? DEFAULTS.cancelConcurrency,
      cancelRow,
      options.signal,
    );
    options.onProgress?.({ rows: done, of: rowsMatched, cancelled });
  };
  let position = 0;
  const rows = await delivery.reader();
  try {
    for await (const { id } of invocations(run.invocationsPath)) {
      const row = rows.at(position) ?? (await rowAt(rows, position));
      position++;
      // A cancel is scoped by invocation id: for an id an earlier send also used, it would
      // cancel that send's card too. Such rows are left alone (reconcile names them).
      if (row.open <= 0 || hasEarlierCardBits(row.bits)) continue;
      batch.push({ id, open: row.open });
      if (batch.length >= 256) await flush();
    }
    await flush();
  } finally {
    await rows.close();
  }
  return cancelled;
}

function notShrinking(open: number): AtomicBulkError {
  return new AtomicBulkError(
    'API',
    `A cancel request kept answering full batches for one row that had ${open} cards: the cancel does not shrink its scope.`,
    {
      fatal: true,
      hint: 'Check --cancel-path (the cancel request is assumed, SPEC 6); nothing more is sent. The cards cancelled so far stay cancelled; run cancel again once the path is right.',
    },
  );
}
