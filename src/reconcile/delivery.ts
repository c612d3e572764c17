/**
 * Which of a run's rows have cards, counted per row in typed arrays (a million rows take
 * 3 MB), filled by the two ways of asking the Cards API: one query per invocation id, or
 * the cards of the flow's card template(s) paged through and matched against the run's
 * ids on disk (card-join.ts). Requests run a few at a time, with the client's retry and 429 rules.
 */
import type { CardsApi } from '../api/client.js';
import { MAX_CARDS_PER_REQUEST, type CardQuery, type CardSummary } from '../api/cards.js';
import { AtomicBulkError, isAtomicBulkError } from '../model/errors.js';
import { sleep } from '../model/retry.js';
import { CardJoin } from './card-join.js';
import { ArrayRows, SpilledRows, type RowCards, type RowReader } from './row-cards.js';
import { invocations } from './run-source.js';

/** Attempts of one row's work beyond what the HTTP client already retried. */
const ROW_ATTEMPTS = 4;

/**
 * Runs one row's requests again when they still fail after the client's own retries with
 * something a later attempt may not meet — 429 or 5xx for a while, a token refused twice
 * in a row, a network error — after 1, 2 and 4 s. A run of thousands of rows should not
 * stop for one unlucky row; anything else (404, 400, a refused credential) stops it.
 */
export async function persist<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (signal?.aborted === true || attempt >= ROW_ATTEMPTS || !isAtomicBulkError(error))
        throw error;
      const status = error.context.status;
      const passing =
        error.context.fatal !== true &&
        (status === undefined ||
          status === 429 ||
          status >= 500 ||
          (status === 401 && error.context.operation !== 'POST token'));
      if (!passing) throw error;
      await sleep(1000 * 2 ** (attempt - 1), signal);
    }
  }
}

/** Card statuses as bits of a row's status set; anything else is `other`. */
export const STATUS_BITS: Record<string, number> = {
  active: 1,
  completed: 2,
  dismissed: 4,
  canceled: 8,
  cancelled: 8,
  snoozed: 16,
  expired: 32,
  other: 128,
};
const OTHER = 128;
/** A card made before this run started: another send's, kept by Atomic for a reused id. */
const REUSED = 64;
/** Statuses of a card that reached its user and is still theirs (or was acted on). */
const DELIVERED_BITS = 1 | 2 | 4 | 16;

/** What became of a row, from its cards (SPEC 6; docs/decisions.md). */
export type RowOutcome = 'delivered' | 'cancelled' | 'expired' | 'reused' | 'other' | 'none';
export const ROW_OUTCOMES: readonly RowOutcome[] = [
  'delivered',
  'cancelled',
  'expired',
  'reused',
  'other',
  'none',
];

/** Where a look keeps its rows' cards: typed arrays, or sorted records on disk (row-cards.ts). */
export type RowStore = 'memory' | 'disk';

/** What became of a row with these status bits. */
export function outcomeOf(bits: number): RowOutcome {
  if ((bits & DELIVERED_BITS) !== 0) return 'delivered';
  if ((bits & (STATUS_BITS.canceled as number)) !== 0) return 'cancelled';
  if ((bits & (STATUS_BITS.expired as number)) !== 0) return 'expired';
  if ((bits & OTHER) !== 0) return 'other';
  if ((bits & REUSED) !== 0) return 'reused';
  return 'none';
}

/** The statuses of a row's cards, `|`-separated. */
export function statusTextOf(bits: number): string {
  const names = ['active', 'completed', 'dismissed', 'canceled', 'snoozed', 'expired'].filter(
    (name) => (bits & (STATUS_BITS[name] as number)) !== 0,
  );
  if ((bits & OTHER) !== 0) names.push('other');
  if ((bits & REUSED) !== 0) names.push('earlier-card');
  return names.join('|');
}

/** True when the row's id also has a card of an earlier send (a reused flowInvocationId). */
export function hasEarlierCardBits(bits: number): boolean {
  return (bits & REUSED) !== 0;
}

/** Totals of a look kept on disk, counted as its rows are written. */
interface Tallies {
  withCards: number;
  cards: number;
  openRows: number;
  openCards: number;
  outcomes: Record<RowOutcome, number>;
}

function noOutcomes(): Record<RowOutcome, number> {
  return Object.fromEntries(ROW_OUTCOMES.map((o) => [o, 0])) as Record<RowOutcome, number>;
}

export class Delivery {
  /** Per row (memory store only; empty on disk). */
  readonly counts: Uint16Array;
  /** Cards per row not cancelled yet (what a cancel would still act on). */
  readonly open: Uint16Array;
  readonly statuses: Uint8Array;
  readonly byStatus = new Map<string, number>();
  requests = 0;
  private spilled: SpilledRows | null = null;
  private tallies: Tallies = emptyTallies();
  private readonly scratch: RowCards = { count: 0, open: 0, bits: 0 };

  /**
   * `notBefore`: when the run started (ms), less a margin for clock skew. A card created
   * earlier belongs to an earlier send that used the same flowInvocationId — Atomic kept
   * it and made none for this run — and is neither counted nor ever cancelled as this run's.
   * `store`: `disk` for a template's look at a whole run (rows written by `record` only).
   */
  constructor(
    readonly rows: number,
    private readonly notBefore: number | null = null,
    readonly store: RowStore = 'memory',
  ) {
    const size = store === 'memory' ? rows : 0;
    this.counts = new Uint16Array(size);
    this.open = new Uint16Array(size);
    this.statuses = new Uint8Array(size);
  }

  /** Forgets the last look (a disk look's files go when the next one begins, or at close). */
  reset(): void {
    this.counts.fill(0);
    this.open.fill(0);
    this.statuses.fill(0);
    this.byStatus.clear();
    this.tallies = emptyTallies();
  }

  /** Starts a look whose rows are written by `record` (a disk store opens its files). */
  async begin(): Promise<void> {
    this.reset();
    if (this.store === 'memory') return;
    await this.spilled?.close();
    this.spilled = null;
    this.spilled = await SpilledRows.open();
  }

  /** Counts one card into `row` (its status and whether it is this run's). */
  applyCard(row: RowCards, status: string, created: number | null): void {
    if (this.notBefore !== null && created !== null && created < this.notBefore) {
      row.bits |= REUSED;
      return;
    }
    if (row.count < 65535) row.count++;
    if (status !== 'canceled' && status !== 'cancelled' && row.open < 65535) row.open++;
    row.bits |= STATUS_BITS[status] ?? OTHER;
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  /** A row's cards as counted by a look (each row once); a promise only when a disk store writes. */
  record(position: number, row: Readonly<RowCards>): void | Promise<void> {
    if (position < 0 || position >= this.rows) return;
    if (this.store === 'memory') {
      this.counts[position] = row.count;
      this.open[position] = row.open;
      this.statuses[position] = row.bits;
      return;
    }
    const t = this.tallies;
    if (row.count > 0) t.withCards++;
    t.cards += row.count;
    t.outcomes[outcomeOf(row.bits)]++;
    if (row.open > 0 && !hasEarlierCardBits(row.bits)) {
      t.openRows++;
      t.openCards += row.open;
    }
    if (this.spilled === null) throw new Error('Delivery: record before begin');
    return this.spilled.put(position, row);
  }

  /** One card of a row (the per-id look; memory store). */
  add(position: number, card: CardSummary): void {
    if (position < 0 || position >= this.rows || this.store !== 'memory') return;
    const row = this.scratch;
    row.count = this.counts[position] as number;
    row.open = this.open[position] as number;
    row.bits = this.statuses[position] as number;
    this.applyCard(row, card.status, card.created);
    void this.record(position, row);
  }

  withCards(): number {
    if (this.store === 'disk') return this.tallies.withCards;
    let n = 0;
    for (const c of this.counts) if (c > 0) n++;
    return n;
  }

  cards(): number {
    if (this.store === 'disk') return this.tallies.cards;
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  /** Rows a cancel would act on (cards not cancelled, no earlier send's card) and their cards. */
  openScope(): { rows: number; cards: number } {
    if (this.store === 'disk')
      return { rows: this.tallies.openRows, cards: this.tallies.openCards };
    let rows = 0;
    let cards = 0;
    this.open.forEach((open, position) => {
      if (open === 0 || this.hasEarlierCard(position)) return;
      rows++;
      cards += open;
    });
    return { rows, cards };
  }

  /** True when the row's id also has a card of an earlier send (memory store). */
  hasEarlierCard(position: number): boolean {
    return hasEarlierCardBits(this.statuses[position] ?? 0);
  }

  /** What became of the row (memory store). */
  outcome(position: number): RowOutcome {
    return outcomeOf(this.statuses[position] ?? 0);
  }

  /** Rows by outcome. */
  outcomes(): Record<RowOutcome, number> {
    if (this.store === 'disk') {
      const counts = { ...this.tallies.outcomes };
      counts.none += this.rows - ROW_OUTCOMES.reduce((n, o) => n + this.tallies.outcomes[o], 0);
      return counts;
    }
    const counts = noOutcomes();
    for (let k = 0; k < this.rows; k++) counts[this.outcome(k)]++;
    return counts;
  }

  /** The statuses of a row's cards, `|`-separated (memory store). */
  statusText(position: number): string {
    return statusTextOf(this.statuses[position] ?? 0);
  }

  /** The last look's rows in order (a disk look's can be read once). */
  async reader(): Promise<RowReader> {
    // A disk store before its first look has no rows with cards: its empty arrays say so.
    if (this.spilled === null) return new ArrayRows(this);
    return this.spilled.reader();
  }

  /** Removes a disk look's files. */
  async close(): Promise<void> {
    await this.spilled?.close();
    this.spilled = null;
  }
}

function emptyTallies(): Tallies {
  return { withCards: 0, cards: 0, openRows: 0, openCards: 0, outcomes: noOutcomes() };
}

/** Runs `fn` over `items`, `concurrency` at a time, stopping at the first error or abort. */
export async function eachLimited<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  // An async generator queues the workers' calls to next(): each item goes to one worker.
  const it: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const worker = async () => {
    for (let next = await it.next(); next.done !== true; next = await it.next()) {
      signal?.throwIfAborted();
      await fn(next.value);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * Every card matching `query`, page by page, at most `maxPages` pages. Paging must
 * advance: a page that repeats most of the page before (a server that ignores `offset`)
 * stops the listing with an error, as does a listing longer than `maxPages` — a server
 * that never stops paging cannot keep reconcile or cancel running for ever.
 */
export async function* allCards(
  api: CardsApi,
  query: CardQuery,
  delivery: Delivery,
  paging: { pageSize: number; maxPages: number },
): AsyncGenerator<CardSummary> {
  for await (const page of allCardPages(api, query, delivery, paging)) yield* page;
}

/** The pages of `allCards`, a page at a time (a caller that takes a page at once makes no promise per card). */
export async function* allCardPages(
  api: CardsApi,
  query: CardQuery,
  delivery: Delivery,
  { pageSize, maxPages }: { pageSize: number; maxPages: number },
): AsyncGenerator<CardSummary[]> {
  let previous = new Set<string>();
  for (let page = 0, offset = 0; ; page++, offset += pageSize) {
    if (page >= maxPages)
      throw new AtomicBulkError(
        'API',
        `The Cards API kept answering full pages past ${maxPages * pageSize} cards for one query.`,
        {
          fatal: true,
          hint: 'Far more cards than the run could have made: check --base-url and --environment.',
        },
      );
    delivery.requests++;
    const cards = await persist(() => api.listCards(query, pageSize, offset));
    const ids = new Set(cards.map((c) => c.cardInstanceId).filter((id) => id !== ''));
    let repeated = 0;
    for (const id of ids) if (previous.has(id)) repeated++;
    if (ids.size > 0 && repeated * 2 > ids.size)
      throw new AtomicBulkError(
        'API',
        `The Cards API answered offset ${offset} with the cards of the page before: it does not page.`,
        { fatal: true, hint: 'atomic-bulk stops rather than read the same page for ever.' },
      );
    previous = ids;
    yield cards;
    if (cards.length < pageSize) return;
  }
}

/** One invocation id's cards: a row reaches at most 10 users, so 10 pages of 100 is ample. */
const PER_ID_MAX_PAGES = 10;

/**
 * A card template's cards may be other runs' too; a listing is cut off at 50 cards per
 * row of the run (or 100,000 cards, whichever is more).
 */
export function templateMaxPages(rows: number): number {
  return Math.ceil(Math.max(100_000, rows * 50) / MAX_CARDS_PER_REQUEST);
}

/** What a look at the Cards API needs: the API, where cards are counted, and the scope. */
export interface CardCheck {
  api: CardsApi;
  delivery: Delivery;
  signal?: AbortSignal;
  /** Narrows every query (cancel's --status and --user-id). */
  narrow?: CardQuery;
}

/** Queries each listed row's invocation id and counts its cards. */
export async function checkPerId(
  { api, delivery, signal, narrow = {} }: CardCheck,
  rows:
    Iterable<{ position: number; id: string }> | AsyncIterable<{ position: number; id: string }>,
  concurrency: number,
): Promise<void> {
  await eachLimited(
    rows,
    concurrency,
    async ({ position, id }) => {
      const cards = await persist(async () => {
        const found: CardSummary[] = [];
        for await (const card of allCards(api, { ...narrow, flowInvocationId: id }, delivery, {
          pageSize: 100,
          maxPages: PER_ID_MAX_PAGES,
        }))
          found.push(card);
        return found;
      }, signal);
      for (const card of cards) delivery.add(position, card);
    },
    signal,
  );
}

/**
 * Pages through the cards of each template and counts those whose invocation id is one of
 * the run's. Cards of other runs with the same template are read and skipped.
 */
export async function checkByTemplate(
  { api, delivery, signal, narrow = {} }: CardCheck,
  templates: Iterable<string>,
  run: { invocationsPath: string },
): Promise<void> {
  const join = await CardJoin.open();
  try {
    for (const template of templates) {
      const query = { ...narrow, cardTemplateId: template };
      for await (const page of allCardPages(api, query, delivery, {
        pageSize: MAX_CARDS_PER_REQUEST,
        maxPages: templateMaxPages(delivery.rows),
      })) {
        signal?.throwIfAborted();
        for (const card of page) {
          const pending = join.addCard(card);
          if (pending !== undefined) await pending;
        }
      }
    }
    await join.countInto(run.invocationsPath, delivery);
  } finally {
    await join.close();
  }
}

/** Reproducible samples under --seed. */
export { mulberry32 as seededRandom } from '../model/random.js';

/** The Wilson score interval at 95 % for `x` successes in `n` trials. */
export function wilson(x: number, n: number): { share: number; low: number; high: number } {
  if (n === 0) return { share: 0, low: 0, high: 1 };
  const z = 1.959964;
  const p = x / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return { share: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * The card templates the run's cards use, from the cards of up to 64 rows spread over the
 * run (the flow config does not name them). None yet: nothing processed so far.
 */
export async function discoverTemplates(
  api: CardsApi,
  run: { rows: number; invocationsPath: string },
  delivery: Delivery,
): Promise<string[]> {
  const wanted = new Set<number>();
  const probes = Math.min(64, run.rows);
  for (let k = 0; k < probes; k++) wanted.add(Math.floor((k * run.rows) / probes));
  const ids: string[] = [];
  let position = 0;
  for await (const { id } of invocations(run.invocationsPath)) {
    if (wanted.has(position)) ids.push(id);
    position++;
  }
  const templates = new Set<string>();
  for (const id of ids) {
    delivery.requests++;
    for (const card of await persist(() => api.listCards({ flowInvocationId: id }, 100, 0)))
      if (card.cardTemplateId !== null) templates.add(card.cardTemplateId);
  }
  return [...templates];
}
