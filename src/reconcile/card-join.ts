/**
 * The cards of a template matched to a run's rows on disk: each listed card with an
 * invocation id becomes a record (the id's 128-bit fingerprint, when it was created, its
 * status), the run's ids become (fingerprint, position) records, both are sorted with the
 * external sorter and merged, and every match is counted into `Delivery`. Memory is the
 * sorters' chunks and read buffers, not a table of the run's ids: 10 M rows cost Delivery's
 * 5 bytes a row and no more.
 */
import { makeOwnedTempDir, removeOwnedTempDir } from '../files/private-files.js';
import { compare, ExternalSorter, MergedCursor } from '../files/sorted-runs.js';
import { KNOWN_STATUSES, type CardSummary } from '../api/cards.js';
import { FINGERPRINT_BYTES, Fingerprinter } from './fingerprint.js';
import { invocationBatches } from './run-source.js';
import type { RowCards } from './row-cards.js';

const FP = FINGERPRINT_BYTES;
/** fingerprint | position (u32 BE) */
const ROW_WIDTH = FP + 4;
/** fingerprint | created (ms, 48-bit BE; all ones when unknown) | status | pad */
const CARD_WIDTH = FP + 8;
const CHUNK = 1 << 17;
const UNKNOWN_TIME = 2 ** 48 - 1;
/** Statuses a record names by number; any other is `other` (its text is not kept). */
const STATUSES: readonly string[] = KNOWN_STATUSES;
const OTHER = 255;

/** Where matches are counted (delivery.ts's Delivery): each row once, with all its cards. */
export interface CardCounter {
  begin(): Promise<void>;
  applyCard(row: RowCards, status: string, created: number | null): void;
  record(position: number, row: Readonly<RowCards>): void | Promise<void>;
}

export class CardJoin {
  private readonly cards: ExternalSorter;
  private readonly record = Buffer.alloc(CARD_WIDTH);
  private readonly fingerprints = new Fingerprinter();

  private constructor(private readonly dir: string) {
    this.cards = new ExternalSorter(dir, CARD_WIDTH, FP, CHUNK);
  }

  static async open(): Promise<CardJoin> {
    return new CardJoin(await makeOwnedTempDir('cards'));
  }

  /** A listed card; a promise only when the sorter writes a chunk to disk. */
  addCard(card: CardSummary): void | Promise<void> {
    if (card.flowInvocationId === null) return;
    const r = this.record;
    if (!this.fingerprints.write(card.flowInvocationId, r)) return;
    const created =
      card.created === null ? UNKNOWN_TIME : Math.max(0, Math.min(card.created, UNKNOWN_TIME - 1));
    r.writeUIntBE(created, FP, 6);
    const status = STATUSES.indexOf(card.status);
    r[FP + 6] = status < 0 ? OTHER : status;
    r[FP + 7] = 0;
    if (!this.cards.roomy) return this.cards.add(r, 0);
    this.cards.push(r, 0);
  }

  /** Merges the cards with the run's rows (read from invocations.csv) into `delivery`. */
  async countInto(invocationsPath: string, delivery: CardCounter): Promise<void> {
    const rows = new ExternalSorter(this.dir, ROW_WIDTH, FP, CHUNK);
    let position = 0;
    for await (const batch of invocationBatches(invocationsPath))
      for (const { id } of batch) {
        this.fingerprints.write(id, this.record);
        this.record.writeUInt32BE(position++, FP);
        if (rows.roomy) rows.push(this.record, 0);
        else await rows.add(this.record, 0);
      }
    const run = new MergedCursor(await rows.sources(), ROW_WIDTH, FP);
    const cards = new MergedCursor(await this.cards.sources(), CARD_WIDTH, FP);
    try {
      await merge(run, cards, delivery);
    } finally {
      await run.close();
      await cards.close();
      await rows.dispose();
    }
  }

  async close(): Promise<void> {
    await this.cards.dispose();
    await removeOwnedTempDir(this.dir);
  }
}

async function merge(run: MergedCursor, cards: MergedCursor, delivery: CardCounter): Promise<void> {
  await delivery.begin();
  const row: RowCards = { count: 0, open: 0, bits: 0 };
  let more = await cards.fill();
  while (await run.fill()) {
    for (let at = run.pos; at < run.end; at += ROW_WIDTH) {
      const position = run.buf.readUInt32BE(at + FP);
      while (more && compare(cards.buf, cards.pos, run.buf, at, FP) < 0) {
        cards.pos += CARD_WIDTH;
        if (cards.pos >= cards.end) more = await cards.fill();
      }
      // Cards of this id; a repeated id (not possible in a run) would see none the second time.
      let matched = false;
      row.count = row.open = row.bits = 0;
      while (more && compare(cards.buf, cards.pos, run.buf, at, FP) === 0) {
        const created = cards.buf.readUIntBE(cards.pos + FP, 6);
        const status = cards.buf[cards.pos + FP + 6] as number;
        delivery.applyCard(
          row,
          STATUSES[status] ?? 'other',
          created === UNKNOWN_TIME ? null : created,
        );
        matched = true;
        cards.pos += CARD_WIDTH;
        if (cards.pos >= cards.end) more = await cards.fill();
      }
      if (!matched) continue;
      const pending = delivery.record(position, row);
      if (pending !== undefined) await pending;
    }
  }
}
