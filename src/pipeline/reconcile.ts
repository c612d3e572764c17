/**
 * `reconcile`: which rows of a finished send produced cards in Atomic (SPEC 6). Reads the
 * run's line → flowInvocationId map, asks the Cards API — one query per id for small runs,
 * the flow's card template(s) paged and matched in bounded memory for large ones, or a
 * random sample with a 95 % interval — polls with --wait while Atomic processes uploads,
 * writes reconciled.csv and adds a `reconcile` section to the run's report.
 */
import { checkRange, DEFAULTS, LIMITS } from '../model/limits.js';
import type { ReportNotifier } from '../model/notify.js';
import type { CardsApi } from '../api/client.js';
import { EXIT } from '../model/outcome.js';
import type { ReconcileSection, SendMode } from '../model/report.js';
import {
  checkByTemplate,
  checkPerId,
  Delivery,
  discoverTemplates,
  outcomeOf,
  statusTextOf,
  seededRandom,
  wilson,
} from '../reconcile/delivery.js';
import {
  invocationBatches,
  invocations,
  openSentRun,
  runStartedAt,
  type SentRun,
} from '../reconcile/run-source.js';

export { runStartedAt };
import { ReportDir } from '../report/report-dir.js';
import { csvField } from '../report/rejected-csv.js';
import { TextOut } from '../files/text-out.js';
import { sleep } from '../model/retry.js';
import type { ExportFormat } from '../api/analytics.js';
import { PartTally, type PartOutcomes } from '../reconcile/part-tally.js';
import { ROW_OUTCOMES } from '../reconcile/delivery.js';
import { rowAt } from '../reconcile/row-cards.js';
import {
  coverage,
  exportFrom,
  type ReconcilePoll,
  exportUnavailable,
  listExport,
  runEnd,
} from './reconcile-analytics.js';
import {
  finishReconcile,
  reconcileByAnalytics,
  type ReconciledRun,
} from './reconcile-by-analytics.js';

export type ReconcileStrategy = 'auto' | 'per-id' | 'template';
/** Where outcomes come from: the Cards API, the analytics export, or the export when it covers the run. */
export type ReconcileSource = 'cards' | 'analytics' | 'auto';

export interface ReconcileOptions {
  /** A send's report folder, or its run id. */
  target: string;
  /** Where run ids are looked up. Default .atomic-bulk. */
  stateDir?: string;
  api: CardsApi;
  strategy?: ReconcileStrategy;
  /** Default `cards`. */
  source?: ReconcileSource;
  /** Format asked of the analytics export. Default ndjson. */
  format?: ExportFormat;
  /** Check this many random rows instead of all. */
  sample?: number;
  seed?: number;
  /** Keep polling this long while rows lack cards. Default 0: one check. */
  waitMs?: number;
  /** Between polls. Default 5 s. */
  intervalMs?: number;
  /** Requests at once. Default 8. */
  concurrency?: number;
  /** Runs up to this many rows use one query per id under `auto`. Default 2,000. */
  perIdMax?: number;
  signal?: AbortSignal;
  /** Told after every poll. */
  onPoll?: (poll: ReconcilePoll) => void;
  now?: () => Date;
  /** Tells the command's end (--notify); the report records how that went. */
  notifier?: ReportNotifier;
}

export type ReconcileResult = ReconciledRun;

/** Rows checked: every row of the run, or the sample, with their ids. */
interface Checked {
  strategy: ReconcileSection['strategy'];
  /** Positions in the run of the checked rows (null: all rows, in order). */
  positions: number[] | null;
  /** The sample's ids (null: every row's, read from invocations.csv when asked). */
  ids: string[] | null;
}

export function reconcile(options: ReconcileOptions): Promise<ReconcileResult> {
  if (options.concurrency !== undefined)
    checkRange('concurrency', options.concurrency, LIMITS.cardConcurrency);
  return withSentRun(options, (run, dir) => reconcileRun(options, run, dir));
}

async function reconcileRun(
  options: ReconcileOptions,
  run: SentRun,
  dir: ReportDir,
): Promise<ReconcileResult> {
  const source = await chooseSource(options, run);
  if (source.source === 'analytics') return reconcileByAnalytics(options, run, dir, source.reason);
  const section = await reconcileByCards(options, run, dir);
  if (source.reason !== null) section.sourceReason = source.reason;
  return finishReconcile(options, run, dir, section);
}

/**
 * --source: the one asked for; under auto, the analytics export when it answers and
 * covers the run through its end, else the Cards API (and why, for the report).
 */
async function chooseSource(
  options: ReconcileOptions,
  run: SentRun,
): Promise<{ source: 'cards' | 'analytics'; reason: string | null }> {
  const source = options.source ?? 'cards';
  if (source !== 'auto') return { source, reason: null };
  if (options.sample !== undefined)
    return { source: 'cards', reason: '--sample asks the Cards API' };
  const now = options.now ?? (() => new Date());
  let files;
  try {
    files = await listExport(options.api, run, options.format ?? 'ndjson', now());
  } catch (error) {
    const why = exportUnavailable(error);
    if (why === null) throw error;
    return { source: 'cards', reason: why };
  }
  const covered = coverage(files, exportFrom(run).getTime());
  if (covered !== null && covered >= runEnd(run))
    return { source: 'analytics', reason: 'the analytics export covers the run' };
  return {
    source: 'cards',
    reason:
      covered === null
        ? 'the analytics export does not say which hours it holds'
        : `the analytics export covers only until ${new Date(covered).toISOString()}`,
  };
}

async function reconcileByCards(
  options: ReconcileOptions,
  run: SentRun,
  dir: ReportDir,
): Promise<ReconcileSection> {
  const now = options.now ?? (() => new Date());
  const checked = await choose(run, options);
  const rows = checked.positions?.length ?? run.rows;
  // A template's look at the whole run keeps its rows on disk: memory does not grow with it.
  const store = checked.strategy === 'template' ? 'disk' : 'memory';
  const delivery = new Delivery(rows, runStartedAt(run), store);
  const look: CardsLook = { options, run, checked, delivery };
  let polls: number, waitedMs: number, byPart: PartOutcomes[] | null;
  try {
    ({ polls, waitedMs } = await pollUntilSettled(look, now));
    byPart = await writeReconciled(dir, look);
  } finally {
    await delivery.close();
  }
  const file = RECONCILED_FILE;
  const withCards = delivery.withCards();
  const rowsByOutcome = delivery.outcomes();
  // Delivered means a card of this run reached the row's user: not cancelled, not expired,
  // not an earlier send's card kept for a reused id.
  const partial = rowsByOutcome.delivered < rows;
  const section: ReconcileSection = {
    checkedAt: now().toISOString(),
    strategy: checked.strategy,
    rows,
    withCards,
    withoutCards: rows - withCards,
    cards: delivery.cards(),
    cardsByStatus: Object.fromEntries(delivery.byStatus),
    rowsByOutcome,
    requests: delivery.requests,
    polls,
    waitedMs,
    sample:
      checked.strategy === 'sample'
        ? { runRows: run.rows, ...wilson(rowsByOutcome.delivered, rows) }
        : null,
    outcome: partial ? 'partial' : 'delivered',
    exitCode: partial ? EXIT.partial : EXIT.success,
    file,
    source: 'cards',
    byPart,
  };
  return section;
}

/**
 * Checks the rows, again every `intervalMs` while `waitMs` lasts, until every row has a
 * card or the counts stop moving (Atomic has processed what it will).
 */
async function pollUntilSettled(
  look: CardsLook,
  now: () => Date,
): Promise<{ polls: number; waitedMs: number }> {
  const { options, run, checked, delivery } = look;
  const rows = checked.positions?.length ?? run.rows;
  const waitMs = options.waitMs ?? 0;
  const intervalMs = options.intervalMs ?? 5000;
  const started = now().getTime();
  const templates: string[] = [];
  let polls = 0;
  let last = -1;
  let stable = 0;
  for (;;) {
    polls++;
    await checkOnce(look, templates);
    const withCards = delivery.withCards();
    options.onPoll?.({ poll: polls, rows, withCards, cards: delivery.cards(), source: 'cards' });
    const waited = now().getTime() - started;
    if (withCards === rows || waited >= waitMs) break;
    stable = withCards === last ? stable + 1 : 0;
    last = withCards;
    if (withCards > 0 && stable >= 2) break;
    await sleep(Math.min(intervalMs, Math.max(0, waitMs - waited)), options.signal);
  }
  return { polls, waitedMs: now().getTime() - started };
}

/** One look at the rows' cards: by template pages, or per id for the rows without one yet. */
async function checkOnce(
  { options, run, checked, delivery }: CardsLook,
  templates: string[],
): Promise<void> {
  const check = { api: options.api, delivery, signal: options.signal };
  if (checked.strategy === 'template') {
    if (templates.length === 0)
      templates.push(...(await discoverTemplates(options.api, run, delivery)));
    delivery.reset();
    await checkByTemplate(check, templates, run);
    return;
  }
  const ids = checked.ids;
  // A sample's ids are in memory; every row's are read from invocations.csv as they are asked.
  const pending = async function* () {
    if (ids !== null) {
      for (let k = 0; k < ids.length; k++)
        if (delivery.counts[k] === 0) yield { position: k, id: ids[k] as string };
      return;
    }
    let k = 0;
    for await (const batch of invocationBatches(run.invocationsPath))
      for (const { id } of batch) {
        if (delivery.counts[k] === 0) yield { position: k, id };
        k++;
      }
  };
  await checkPerId(check, pending(), options.concurrency ?? DEFAULTS.reconcileConcurrency);
}

/** One reconcile by the Cards API: its options, the run, the rows checked and their cards. */
interface CardsLook {
  options: ReconcileOptions;
  run: SentRun;
  checked: Checked;
  delivery: Delivery;
}

const RECONCILED_FILE = 'reconciled.csv';

/**
 * Runs `work` on the sent run named by `target` and its report folder, locked to add a
 * section; the run's private copy of invocations.csv is removed however `work` ends.
 */
export async function withSentRun<T>(
  options: { target: string; stateDir?: string; api: CardsApi },
  work: (run: SentRun, dir: ReportDir) => Promise<T>,
): Promise<T> {
  const run = await openSentRun(options.target, options.stateDir ?? '.atomic-bulk', options.api);
  try {
    return await work(run, await ReportDir.existing(run.folder));
  } finally {
    await run.close();
  }
}

async function choose(run: SentRun, options: ReconcileOptions): Promise<Checked> {
  if (options.sample !== undefined) {
    // Reservoir sampling: one pass, the sample's ids only in memory.
    const size = Math.min(options.sample, run.rows);
    const random = seededRandom(options.seed ?? 1);
    const picked: { position: number; id: string }[] = [];
    let position = 0;
    for await (const { id } of invocations(run.invocationsPath)) {
      if (picked.length < size) picked.push({ position, id });
      else {
        const k = Math.floor(random() * (position + 1));
        if (k < size) picked[k] = { position, id };
      }
      position++;
    }
    picked.sort((a, b) => a.position - b.position);
    return {
      strategy: 'sample',
      positions: picked.map((p) => p.position),
      ids: picked.map((p) => p.id),
    };
  }
  const strategy =
    options.strategy === undefined || options.strategy === 'auto'
      ? run.rows <= (options.perIdMax ?? 2000)
        ? 'per-id'
        : 'template'
      : options.strategy;
  return { strategy, positions: null, ids: null };
}

const REUSED_NOTE =
  'id reused: Atomic kept the card of an earlier send with this flowInvocationId and made none for this run';

/** Why a row may have no card, from what Atomic documents (SPEC 6). */
function noCardNote(mode: SendMode | null): string {
  return mode === 'test'
    ? 'no card: a test send reaches test users only; or the targets matched no user or more than 10'
    : 'no card: the targets matched no user or more than 10 users, or processing has not finished';
}

async function writeReconciled(
  dir: ReportDir,
  { run, checked, delivery }: CardsLook,
): Promise<PartOutcomes[] | null> {
  const file = RECONCILED_FILE;
  const tally = new PartTally(run.report.parts, run.rows, ROW_OUTCOMES);
  const out = new TextOut(dir.stream(file));
  out.add('line,flowInvocationId,cards,statuses,outcome,note\n');
  const note = noCardNote(run.report.flow.mode);
  const positions = checked.positions;
  const rows = await delivery.reader();
  let position = 0;
  let next = 0;
  try {
    for await (const batch of invocationBatches(run.invocationsPath))
      for (const { line, id } of batch) {
        let k = position;
        if (positions !== null) {
          if (positions[next] !== position) {
            position++;
            continue;
          }
          k = next++;
        }
        const row = rows.at(k) ?? (await rowAt(rows, k));
        const cards = row.count;
        const outcome = outcomeOf(row.bits);
        if (positions === null) tally.add(position, outcome);
        position++;
        const why = outcome === 'reused' ? REUSED_NOTE : cards === 0 ? note : '';
        const full = out.add(
          `${csvField(line)},${csvField(id)},${cards},${statusTextOf(row.bits)},${outcome},${csvField(why)}\n`,
        );
        if (full) await out.flush();
      }
  } finally {
    await rows.close();
  }
  await out.close();
  await dir.commit(file);
  return positions === null ? tally.table() : null;
}
