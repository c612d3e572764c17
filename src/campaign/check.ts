/**
 * Which rows of a run the campaign sends (SPEC 8). The first pass hands every valid row's
 * key digest and record number to a `KeyCollector` (sorted on disk as they come); after
 * it, `decide` walks the run's keys and the ledger together in digest order — one merge,
 * memory one chunk and a read buffer per file — and writes one decision per row that is
 * not simply "new key, send": skipped (sent less than --once-per ago, or a repeat of an
 * earlier row of this run), or sent again (its occurrence and epoch, which its
 * flowInvocationId is derived from). The decisions are sorted by record number for the
 * second pass.
 */
import { ROW_HEADER, ROW_VALID, type CheckedBatch } from '../model/checked-batch.js';
import { AtomicBulkError } from '../model/errors.js';
import type { RecordSet } from '../model/record-set.js';
import { DIGEST_BYTES, type KeyHasher } from './campaign-secret.js';
import { ENTRY_BYTES, newer, type CampaignLedger } from './ledger.js';
import { ExternalSorter, MergedCursor, compare, forEach, type Cursor } from './sorted-runs.js';

/** digest (16) | record number (u32). */
export const RUN_KEY_BYTES = 20;
/** record number (u32) | kind (u8) | 0 | occurrence (u16) | epoch (u16) | extra (u32) | 0 0. */
export const DECISION_BYTES = 16;
export const SKIP_SENT = 1;
export const SKIP_REPEAT = 2;
export const SEND_AGAIN = 3;
const MAX_RECORD = 0xffff_ffff;

/** Key columns by name → positions in a header; -1 when missing (the validator reports it). */
export function keyPositions(header: readonly string[], keyColumns: readonly string[]): number[] {
  return keyColumns.map((k) => header.indexOf(k));
}

/** Reads a row's key values (the cells' bytes, quotes resolved). */
export function keyValues(b: CheckedBatch['records'], i: number, positions: number[]): Buffer[] {
  return positions.map((p) => b.fieldBytes(i, p));
}

/** Pass 1: every valid row's (key digest, record number), sorted on disk. */
export class KeyCollector {
  private positions: number[] | null = null;
  private readonly entry = Buffer.alloc(RUN_KEY_BYTES);
  readonly sorter: ExternalSorter;

  constructor(
    private readonly hasher: KeyHasher,
    private readonly keyColumns: readonly string[],
    workDir: string,
  ) {
    this.sorter = new ExternalSorter(workDir, RUN_KEY_BYTES);
  }

  async observe(checked: CheckedBatch): Promise<void> {
    const b = checked.records;
    for (let i = 0; i < b.count; i++) {
      const status = checked.status[i] as number;
      if (status === ROW_HEADER) {
        this.positions = keyPositions(b.fields(i), this.keyColumns);
        continue;
      }
      if (status !== ROW_VALID || this.positions === null || this.positions.includes(-1)) continue;
      const recordNo = checked.recordNo[i] as number;
      if (recordNo > MAX_RECORD)
        throw new AtomicBulkError('INPUT', 'A campaign send takes at most 4,294,967,295 rows.');
      this.hasher.digest(keyValues(b, i, this.positions), this.entry, 0);
      this.entry.writeUInt32BE(recordNo, DIGEST_BYTES);
      if (this.sorter.roomy) this.sorter.push(this.entry, 0);
      else await this.sorter.add(this.entry, 0);
    }
  }
}

export interface DecideOptions {
  /** --once-per in seconds; null: forever. */
  oncePerSeconds: number | null;
  now: Date;
  /** Rows the whole-file checks found invalid after pass 1 (duplicates): never sent. */
  invalid: RecordSet;
  workDir: string;
}

export interface Decisions {
  sorter: ExternalSorter;
  /** Rows skipped as sent less than --once-per ago. */
  skippedSent: number;
  /** Rows skipped as repeating an earlier row's key in this run. */
  skippedRepeat: number;
  /** Rows sent again (their key was sent before, longer ago than --once-per). */
  sentAgain: number;
  /** Distinct keys of the run that will be sent. */
  keys: number;
}

/** Joins the run's sorted keys with the ledger; the ledger's journals must be folded first. */
export async function decide(
  ledger: CampaignLedger,
  run: ExternalSorter,
  o: DecideOptions,
): Promise<Decisions> {
  const out: Decisions = {
    sorter: new ExternalSorter(o.workDir, DECISION_BYTES, 4),
    skippedSent: 0,
    skippedRepeat: 0,
    sentAgain: 0,
    keys: 0,
  };
  const ledgerCursor = await ledger.entriesCursor();
  const join = new LedgerJoin(ledgerCursor);
  const now = Math.floor(o.now.getTime() / 1000);
  const prev = Buffer.alloc(DIGEST_BYTES);
  let prevRecord = 0;
  let havePrev = false;
  const decision = Buffer.alloc(DECISION_BYTES);
  const note = (recordNo: number, kind: number, occ: number, epoch: number, extra: number) => {
    decision.fill(0);
    decision.writeUInt32BE(recordNo, 0);
    decision[4] = kind;
    decision.writeUInt16BE(occ, 6);
    decision.writeUInt16BE(epoch, 8);
    decision.writeUInt32BE(extra, 10);
    return out.sorter.add(decision, 0);
  };
  try {
    await forEach(
      new MergedCursor(await run.sources(), RUN_KEY_BYTES),
      RUN_KEY_BYTES,
      async (b, at) => {
        const recordNo = b.readUInt32BE(at + DIGEST_BYTES);
        if (o.invalid.has(recordNo)) return;
        if (havePrev && compare(prev, 0, b, at, DIGEST_BYTES) === 0) {
          out.skippedRepeat++;
          return note(recordNo, SKIP_REPEAT, 0, 0, prevRecord);
        }
        b.copy(prev, 0, at, at + DIGEST_BYTES);
        prevRecord = recordNo;
        havePrev = true;
        const last = await join.latest(b, at);
        if (last === null) {
          out.keys++;
          return;
        }
        const sentAt = last.readUInt32BE(16);
        if (o.oncePerSeconds === null || now - sentAt < o.oncePerSeconds) {
          out.skippedSent++;
          return note(recordNo, SKIP_SENT, 0, 0, sentAt);
        }
        out.keys++;
        out.sentAgain++;
        const occ = Math.min(0xffff, last.readUInt16BE(20) + 1);
        return note(recordNo, SEND_AGAIN, occ, last.readUInt16BE(22), 0);
      },
    );
  } finally {
    await ledgerCursor.close();
    await run.dispose();
  }
  return out;
}

/** The ledger read alongside ascending digests: the newest entry of each digest asked for. */
class LedgerJoin {
  private have: boolean | null = null;
  private readonly best = Buffer.alloc(ENTRY_BYTES);

  constructor(private readonly c: Cursor) {}

  private async advance(): Promise<void> {
    this.c.pos += ENTRY_BYTES;
    if (this.c.pos >= this.c.end) this.have = await this.c.fill();
  }

  async latest(digest: Buffer, at: number): Promise<Buffer | null> {
    const c = this.c;
    if (this.have === null) this.have = await c.fill();
    while (this.have && compare(c.buf, c.pos, digest, at, DIGEST_BYTES) < 0) await this.advance();
    let found = false;
    while (this.have && compare(c.buf, c.pos, digest, at, DIGEST_BYTES) === 0) {
      if (!found || newer(c.buf, c.pos, this.best, 0))
        c.buf.copy(this.best, 0, c.pos, c.pos + ENTRY_BYTES);
      found = true;
      await this.advance();
    }
    return found ? this.best : null;
  }
}
