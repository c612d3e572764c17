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
import {
  ExternalSorter,
  MergedCursor,
  compare,
  copyRecordBytes,
  type Cursor,
} from '../files/sorted-runs.js';

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

/** Pass 1: every valid row's (key digest, record number), sorted on disk. */
export class KeyCollector {
  private positions: number[] | null = null;
  private readonly entry = Buffer.alloc(RUN_KEY_BYTES);
  /** The batch's record numbers (reused). */
  private records = new Float64Array(4096);
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
    if (this.records.length < b.count) this.records = new Float64Array(b.count * 2);
    const records = this.records;
    let n = 0;
    for (let i = 0; i < b.count; i++) {
      const status = checked.status[i] as number;
      if (status === ROW_HEADER) {
        this.positions = keyPositions(b.fields(i), this.keyColumns);
        continue;
      }
      const positions = this.positions;
      if (status !== ROW_VALID || positions === null || positions.includes(-1)) continue;
      const recordNo = checked.recordNo[i] as number;
      if (recordNo > MAX_RECORD)
        throw new AtomicBulkError('INPUT', 'A campaign send takes at most 4,294,967,295 rows.');
      this.hasher.setRecord(n, b, i, positions);
      records[n++] = recordNo;
    }
    const digests = this.hasher.finish(n);
    for (let k = 0; k < n; k++) {
      copyRecordBytes(digests, k * DIGEST_BYTES, this.entry, 0, DIGEST_BYTES);
      this.entry.writeUInt32BE(records[k] as number, DIGEST_BYTES);
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
// eslint-disable-next-line max-lines-per-function -- hot loop: the per-key merge of the run with the ledger: one loop, its state in locals
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
  /* eslint-disable max-params -- hot loop: per decision: writes a fixed-width record without an object per row */
  const note = async (
    recordNo: number,
    kind: number,
    occ: number,
    epoch: number,
    extra: number,
  ) => {
    /* eslint-enable max-params */
    decision.fill(0);
    decision.writeUInt32BE(recordNo, 0);
    decision[4] = kind;
    decision.writeUInt16BE(occ, 6);
    decision.writeUInt16BE(epoch, 8);
    decision.writeUInt32BE(extra, 10);
    if (out.sorter.roomy) out.sorter.push(decision, 0);
    else await out.sorter.add(decision, 0);
  };
  const runCursor = new MergedCursor(await run.sources(), RUN_KEY_BYTES);
  try {
    await join.start();
    while (await runCursor.fill()) {
      const b = runCursor.buf;
      for (let at = runCursor.pos; at < runCursor.end; at += RUN_KEY_BYTES) {
        const recordNo = b.readUInt32BE(at + DIGEST_BYTES);
        if (o.invalid.has(recordNo)) continue;
        if (havePrev && compare(prev, 0, b, at, DIGEST_BYTES) === 0) {
          out.skippedRepeat++;
          await note(recordNo, SKIP_REPEAT, 0, 0, prevRecord);
          continue;
        }
        copyRecordBytes(b, at, prev, 0, DIGEST_BYTES);
        prevRecord = recordNo;
        havePrev = true;
        let last = join.latest(b, at);
        while (last === undefined) {
          await join.refill();
          last = join.latest(b, at);
        }
        if (last === null) {
          out.keys++;
          continue;
        }
        const sentAt = last.readUInt32BE(16);
        if (o.oncePerSeconds === null || now - sentAt < o.oncePerSeconds) {
          out.skippedSent++;
          await note(recordNo, SKIP_SENT, 0, 0, sentAt);
          continue;
        }
        out.keys++;
        out.sentAgain++;
        const occ = Math.min(0xffff, last.readUInt16BE(20) + 1);
        await note(recordNo, SEND_AGAIN, occ, last.readUInt16BE(22), 0);
      }
    }
  } finally {
    await runCursor.close();
    await ledgerCursor.close();
    await run.dispose();
  }
  return out;
}

/**
 * The ledger read alongside ascending digests: the newest entry of each digest asked for.
 * `latest` is synchronous; it answers undefined when it ran out of read buffer in the
 * middle, and is asked again (resuming where it was) after `refill`.
 */
class LedgerJoin {
  private have = false;
  private pending = false;
  private found = false;
  private readonly best = Buffer.alloc(ENTRY_BYTES);

  constructor(private readonly c: Cursor) {}

  async start(): Promise<void> {
    this.have = await this.c.fill();
  }

  async refill(): Promise<void> {
    this.have = await this.c.fill();
  }

  latest(digest: Buffer, at: number): Buffer | null | undefined {
    const c = this.c;
    if (!this.pending) this.found = false;
    this.pending = false;
    while (this.have) {
      if (c.pos >= c.end) {
        this.pending = true;
        return undefined;
      }
      const d = compare(c.buf, c.pos, digest, at, DIGEST_BYTES);
      if (d > 0) break;
      if (d === 0 && (!this.found || newer(c.buf, c.pos, this.best, 0))) {
        copyRecordBytes(c.buf, c.pos, this.best, 0, ENTRY_BYTES);
        this.found = true;
      }
      c.pos += ENTRY_BYTES;
    }
    return this.found ? this.best : null;
  }
}
