/**
 * The join of a run's rows with analytics events by flowInvocationId, in bounded memory
 * whatever the number of rows or events: both sides go to disk as fixed-width records
 * keyed by the id's 128-bit fingerprint (MurmurHash3, as the duplicate finder uses) and
 * are sorted there (files/sorted-runs.ts); one merge of the two sorted streams gives each
 * row its events; the per-row results are sorted back into the run's order, for
 * reconciled.csv to be written beside invocations.csv a row at a time.
 *
 * A row's outcome, from the counts of its events (docs/decisions.md): published while
 * more cards were published than cancelled or expired; else cancelled, expired, error,
 * embargoed, in that order; none when no event of the row was found. Events from before
 * the run started belong to an earlier send of the same id and are not the row's.
 */
import {
  ExternalSorter,
  MergedCursor,
  compare,
  runCursors,
  type Cursor,
} from '../files/sorted-runs.js';
import { EVENT_KIND } from './analytics-events.js';
import { FINGERPRINT_BYTES, Fingerprinter } from './fingerprint.js';
import { invocationBatches } from './run-source.js';

export const ANALYTICS_OUTCOMES = [
  'published',
  'error',
  'cancelled',
  'expired',
  'embargoed',
  'none',
] as const;
export type AnalyticsOutcome = (typeof ANALYTICS_OUTCOMES)[number];
const NONE = ANALYTICS_OUTCOMES.indexOf('none');

const FP = FINGERPRINT_BYTES;
/**
 * Records per in-memory chunk of each of the join's three sorters: 128 Ki keeps the three
 * chunks and their sort arrays near 16 MiB; 10 M rows then merge from about 80 files a side.
 */
const JOIN_CHUNK_RECORDS = 1 << 17;
/** fingerprint | position (u32 BE) */
const RUN_WIDTH = FP + 4;
/** fingerprint | time (ms, 48-bit BE) | kind | pad */
export const EVENT_WIDTH = FP + 8;
/** position (u32 BE) | outcome | pad 3 | first, last (ms, 48-bit BE) | published, displayed, completed, dismissed, events (u16 BE) | pad 2 */
export const ROW_WIDTH = 32;

/** A row's result, decoded from its record. */
export interface RowResult {
  position: number;
  outcome: AnalyticsOutcome;
  /** ms since the epoch, or null without events. */
  first: number | null;
  last: number | null;
  published: number;
  displayed: number;
  completed: number;
  dismissed: number;
  events: number;
}

export function decodeRow(buf: Buffer, at: number): RowResult {
  const events = buf.readUInt16BE(at + 28);
  return {
    position: buf.readUInt32BE(at),
    outcome: ANALYTICS_OUTCOMES[buf[at + 4] as number] ?? 'none',
    first: events === 0 ? null : buf.readUIntBE(at + 8, 6),
    last: events === 0 ? null : buf.readUIntBE(at + 14, 6),
    published: buf.readUInt16BE(at + 20),
    displayed: buf.readUInt16BE(at + 22),
    completed: buf.readUInt16BE(at + 24),
    dismissed: buf.readUInt16BE(at + 26),
    events,
  };
}

/** Counts of one id's events, folded into a row record. */
class Tally {
  readonly counts = new Uint32Array(9);
  first = Infinity;
  last = -Infinity;
  events = 0;

  reset(): void {
    this.counts.fill(0);
    this.first = Infinity;
    this.last = -Infinity;
    this.events = 0;
  }

  add(kind: number, at: number): void {
    this.counts[kind] = (this.counts[kind] as number) + 1;
    this.events++;
    if (at < this.first) this.first = at;
    if (at > this.last) this.last = at;
  }

  outcome(): number {
    const c = this.counts;
    const K = EVENT_KIND;
    const published = c[K['card-published']] as number;
    const cancelled = c[K['card-cancelled']] as number;
    const expired = c[K['card-expired']] as number;
    if (published > cancelled + expired) return 0;
    if (cancelled > 0 && cancelled >= expired) return 2;
    if (expired > 0) return 3;
    if ((c[K['card-error']] as number) > 0) return 1;
    if ((c[K['card-embargoed']] as number) > 0) return 4;
    if (published > 0) return 0;
    return NONE;
  }

  write(out: Buffer, position: number): void {
    const c = this.counts;
    const K = EVENT_KIND;
    const u16 = (n: number) => Math.min(n, 65535);
    out.fill(0, 0, ROW_WIDTH);
    out.writeUInt32BE(position, 0);
    out[4] = this.events === 0 ? NONE : this.outcome();
    if (this.events > 0) {
      out.writeUIntBE(this.first, 8, 6);
      out.writeUIntBE(this.last, 14, 6);
    }
    out.writeUInt16BE(u16(c[K['card-published']] as number), 20);
    out.writeUInt16BE(u16(c[K['card-displayed']] as number), 22);
    out.writeUInt16BE(u16(c[K['card-completed']] as number), 24);
    out.writeUInt16BE(u16(c[K['card-dismissed']] as number), 26);
    out.writeUInt16BE(u16(this.events), 28);
  }
}

export interface JoinCounts {
  byOutcome: Record<AnalyticsOutcome, number>;
  /** Events matched to rows of the run. */
  matched: number;
  /** Events of the run's ids from before it started (an earlier send's). */
  earlier: number;
}

export class AnalyticsJoin {
  private readonly runs: ExternalSorter;
  private readonly events: ExternalSorter;
  private readonly record = Buffer.alloc(EVENT_WIDTH);
  private readonly fingerprints = new Fingerprinter();

  constructor(
    private readonly dir: string,
    /** Events before this (ms) are an earlier send's; null: keep all. */
    private readonly notBefore: number | null,
    private readonly chunkRecords?: number,
  ) {
    this.runs = new ExternalSorter(dir, RUN_WIDTH, FP, chunkRecords ?? JOIN_CHUNK_RECORDS);
    this.events = new ExternalSorter(dir, EVENT_WIDTH, FP, chunkRecords ?? JOIN_CHUNK_RECORDS);
  }

  /** A row of the run; a promise only when the sorter writes a chunk to disk. */
  addRow(id: string, position: number): void | Promise<void> {
    return addTo(this.runs, rowRecord(this.fingerprints, id, position, this.record));
  }

  /**
   * An event, into the join's own events or into `into` (an export period's, kept between
   * looks: eventSorter); a promise only when the sorter writes a chunk to disk.
   */
  addEvent(
    kind: number,
    id: string,
    at: number,
    into: ExternalSorter = this.events,
  ): void | Promise<void> {
    const r = this.record;
    if (!this.fingerprints.write(id, r)) return;
    r.writeUIntBE(Math.max(0, Math.min(at, 2 ** 48 - 1)), FP, 6);
    r[FP + 6] = kind;
    r[FP + 7] = 0;
    return addTo(into, r);
  }

  /**
   * Merges rows with their events; returns the per-row results as a cursor in the run's
   * order (ROW_WIDTH records), and the counts. Disposes of the sorters' files.
   */
  async join(
    kept: {
      /** Sorted event runs kept from earlier looks (runCursors of EVENT_WIDTH records). */
      events?: Cursor[];
      /** The run's rows sorted once for every look (sortRunRows), instead of addRow's. */
      rows?: readonly string[];
    } = {},
  ): Promise<{ rows: Cursor; counts: JoinCounts; results: ExternalSorter }> {
    const runs = new MergedCursor(await this.rowSources(kept.rows), RUN_WIDTH, FP);
    const events = new EventFeed(
      new MergedCursor([...(await this.events.sources()), ...(kept.events ?? [])], EVENT_WIDTH, FP),
      this.notBefore,
    );
    const results = new ExternalSorter(
      this.dir,
      ROW_WIDTH,
      4,
      this.chunkRecords ?? JOIN_CHUNK_RECORDS,
    );
    const counts: JoinCounts = {
      byOutcome: Object.fromEntries(
        ANALYTICS_OUTCOMES.map((o) => [o, 0]),
      ) as JoinCounts['byOutcome'],
      matched: 0,
      earlier: 0,
    };
    const tally = new Tally();
    const out = Buffer.alloc(ROW_WIDTH);
    const lastKey = Buffer.alloc(FP);
    let haveLast = false;
    await events.start();
    try {
      while (await runs.fill()) {
        for (let at = runs.pos; at < runs.end; at += RUN_WIDTH) {
          const position = runs.buf.readUInt32BE(at + FP);
          if (!haveLast || compare(runs.buf, at, lastKey, 0, FP) !== 0) {
            tally.reset();
            const pending = events.tallyFor(runs.buf, at, tally, counts);
            if (pending !== undefined) await pending;
            runs.buf.copy(lastKey, 0, at, at + FP);
            haveLast = true;
          }
          tally.write(out, position);
          const outcome = ANALYTICS_OUTCOMES[out[4] as number] as AnalyticsOutcome;
          counts.byOutcome[outcome]++;
          const adding = addTo(results, out);
          if (adding !== undefined) await adding;
        }
      }
    } finally {
      await runs.close();
      await events.cursor.close();
      await this.runs.dispose();
      await this.events.dispose();
    }
    return {
      rows: new MergedCursor(await results.sources(), ROW_WIDTH, 4),
      counts,
      results,
    };
  }

  /** The rows sorted once for every look, or the ones added to this join. */
  private async rowSources(sorted: readonly string[] | undefined): Promise<Cursor[]> {
    return sorted !== undefined ? runCursors(sorted, RUN_WIDTH) : this.runs.sources();
  }

  async dispose(): Promise<void> {
    await this.runs.dispose();
    await this.events.dispose();
  }
}

/** A row's record: its id's fingerprint and its position. */
function rowRecord(fingerprints: Fingerprinter, id: string, position: number, r: Buffer): Buffer {
  fingerprints.write(id, r);
  r.writeUInt32BE(position, FP);
  return r;
}

/**
 * The run's rows (invocations.csv) sorted by id fingerprint into run files in `dir`, once
 * for all the looks of a `--wait` (AnalyticsJoin.join's `rows`); the caller owns the files.
 */
export async function sortRunRows(invocationsPath: string, dir: string): Promise<string[]> {
  const sorter = new ExternalSorter(dir, RUN_WIDTH, FP, JOIN_CHUNK_RECORDS);
  const fingerprints = new Fingerprinter();
  const r = Buffer.alloc(RUN_WIDTH);
  let position = 0;
  for await (const batch of invocationBatches(invocationsPath))
    for (const { id } of batch) {
      const pending = addTo(sorter, rowRecord(fingerprints, id, position++, r));
      if (pending !== undefined) await pending;
    }
  return sorter.seal();
}

/** A sorter of events as the join reads them, in `dir` (an export period's, kept between looks). */
export function eventSorter(dir: string): ExternalSorter {
  return new ExternalSorter(dir, EVENT_WIDTH, FP, JOIN_CHUNK_RECORDS);
}

/** Adds without a promise while the sorter's chunk has room (a million events, a million promises). */
function addTo(sorter: ExternalSorter, record: Buffer): void | Promise<void> {
  if (!sorter.roomy) return sorter.add(record, 0);
  sorter.push(record, 0);
}

/** The sorted events, read alongside the sorted rows. */
class EventFeed {
  private more = false;

  constructor(
    readonly cursor: MergedCursor,
    /** Events before this time (ms) are an earlier send's: counted, not tallied. */
    private readonly notBefore: number | null,
  ) {}

  async start(): Promise<void> {
    this.more = await this.cursor.fill();
  }

  /**
   * Tallies the events of the key at `key[at…]`, passing over events of ids before it; a
   * promise only when the next block of events has to be read.
   */
  tallyFor(key: Buffer, at: number, tally: Tally, counts: JoinCounts): void | Promise<void> {
    const events = this.cursor;
    while (this.more) {
      const order = compare(events.buf, events.pos, key, at, FP);
      if (order > 0) return;
      if (order === 0) {
        const time = events.buf.readUIntBE(events.pos + FP, 6);
        if (this.notBefore !== null && time < this.notBefore) counts.earlier++;
        else {
          tally.add(events.buf[events.pos + FP + 6] as number, time);
          counts.matched++;
        }
      }
      events.pos += EVENT_WIDTH;
      if (events.pos >= events.end) return this.refill(key, at, tally, counts);
    }
  }

  private async refill(key: Buffer, at: number, tally: Tally, counts: JoinCounts): Promise<void> {
    this.more = await this.cursor.fill();
    const pending = this.tallyFor(key, at, tally, counts);
    if (pending !== undefined) await pending;
  }
}
