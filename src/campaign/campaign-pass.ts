/**
 * The campaign's part of a send's second pass: each valid row gets the decision the check
 * made for it — skipped rows leave the stream (ROW_SKIPPED) and are handed to whoever
 * writes skipped.csv; every row sent gets its flowInvocationId's plaintext (key digest,
 * epoch, occurrence) and an entry in the run's sent log, from which each accepted part's
 * journal is cut.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ROW_HEADER, ROW_SKIPPED, ROW_VALID, type CheckedBatch } from '../model/checked-batch.js';
import type { RecordBatch } from '../model/record-batch.js';
import { DIGEST_BYTES, type CampaignIds, type KeyHasher } from './campaign-secret.js';
import { DECISION_BYTES, keyPositions, SEND_AGAIN, SKIP_SENT } from './check.js';
import { ENTRY_BYTES } from './ledger.js';
import { copyRecordBytes, RecordWriter, type Cursor } from '../files/sorted-runs.js';

/** digest (16) | record number (u32) | occurrence (u16) | epoch (u16). */
const SENT_BYTES = 24;

/**
 * Receives a skipped row: the batch and index, when its key was last sent (seconds since
 * the epoch) or null for a repeat in this file, and then the data-record number of the row
 * of this file that is sent instead. A promise only when it has to wait.
 */
export type OnSkipped = (
  records: RecordBatch,
  index: number,
  lastSentAt: number | null,
  repeatOf: number,
) => Promise<void> | undefined;

export interface CampaignPassOptions {
  hasher: KeyHasher;
  keyColumns: readonly string[];
  ids: CampaignIds;
  /** Decisions sorted by record number. */
  decisions: Cursor;
  /** The ledger's epoch: a new key's ids are made with it. */
  epoch: number;
  workDir: string;
  onSkipped: OnSkipped | null;
  /** A live run keeps the keys it sends, for its parts' journals; a dry run does not. */
  journals: boolean;
}

export class CampaignPass {
  private positions: number[] = [];
  private readonly sent: RecordWriter;
  /** (first record number of a stretch, index of its first sent entry), ascending. */
  private readonly marks: number[] = [];
  private haveDecision: boolean | null = null;
  private readonly entry = Buffer.alloc(SENT_BYTES);
  private rows = new Float64Array(4 * 4096);
  skipped = 0;

  constructor(private readonly o: CampaignPassOptions) {
    this.sent = new RecordWriter(
      join(o.workDir, `sent-${process.pid}-${Date.now()}.bin`),
      SENT_BYTES,
    );
  }

  async *select(batches: AsyncIterable<CheckedBatch>): AsyncGenerator<CheckedBatch> {
    try {
      for await (const checked of batches) {
        await this.mark(checked);
        yield checked;
      }
      await this.sent.flush();
    } finally {
      await this.o.decisions.close();
    }
  }

  /**
   * The decision for `recordNo` (0: a new key, send), the cursor left on it; -1 when the
   * read buffer ran out first (refill, then ask again).
   */
  private decision(recordNo: number): number {
    const d = this.o.decisions;
    while (this.haveDecision === true) {
      if (d.pos >= d.end) return -1;
      const at = d.buf.readUInt32BE(d.pos);
      if (at === recordNo) return d.buf[d.pos + 4] as number;
      if (at > recordNo) return 0;
      d.pos += DECISION_BYTES;
    }
    return 0;
  }

  private async decide(recordNo: number): Promise<number> {
    if (this.haveDecision === null) this.haveDecision = await this.o.decisions.fill();
    let kind = this.decision(recordNo);
    while (kind === -1) {
      this.haveDecision = await this.o.decisions.fill();
      kind = this.decision(recordNo);
    }
    return kind;
  }

  private async mark(checked: CheckedBatch): Promise<void> {
    const b = checked.records;
    const { ids, hasher } = this.o;
    ids.reserve(b.count);
    // The batch's rows to send: index, record number, occurrence, epoch (reused arrays: a
    // batch's numbers would otherwise outlive a scavenge and fill the old generation).
    if (this.rows.length < b.count * 4) this.rows = new Float64Array(b.count * 8);
    const rows = this.rows;
    let n = 0;
    let marked = false;
    for (let i = 0; i < b.count; i++) {
      const status = checked.status[i] as number;
      if (status === ROW_HEADER) this.positions = keyPositions(b.fields(i), this.o.keyColumns);
      if (status !== ROW_VALID) continue;
      const recordNo = checked.recordNo[i] as number;
      // One mark a batch (its first valid record): where its sent entries begin.
      if (!marked) {
        this.marks.push(recordNo, this.sent.entries);
        marked = true;
      }
      const kind = this.haveDecision === true ? this.decision(recordNo) : -1;
      const known = kind === -1 ? await this.decide(recordNo) : kind;
      const d = this.o.decisions;
      if (known !== 0 && known !== SEND_AGAIN) {
        checked.status[i] = ROW_SKIPPED;
        this.skipped++;
        const extra = d.buf.readUInt32BE(d.pos + 10);
        const waiting = this.o.onSkipped?.(
          b,
          i,
          known === SKIP_SENT ? extra : null,
          known === SKIP_SENT ? 0 : extra,
        );
        if (waiting !== undefined) await waiting;
        continue;
      }
      const again = known === SEND_AGAIN;
      hasher.setRecord(n / 4, b, i, this.positions);
      rows[n++] = i;
      rows[n++] = recordNo;
      rows[n++] = again ? d.buf.readUInt16BE(d.pos + 6) : 0;
      rows[n++] = again ? d.buf.readUInt16BE(d.pos + 8) : this.o.epoch;
    }
    // Ids come from the keys' hashes (no cipher call of their own); the keyed digests are
    // made only when a journal will need them (a dry run records nothing): each cipher
    // call's output is memory the collector finds late.
    for (let k = 0; k < n; k += 4)
      ids.set(
        rows[k] as number,
        hasher.hashes,
        k * 4,
        rows[k + 3] as number,
        rows[k + 2] as number,
      );
    if (this.o.journals) await this.journalSent(n);
  }

  /** The batch's sent entries (keyed digest, record, occurrence, epoch), for the journal. */
  private async journalSent(n: number): Promise<void> {
    const rows = this.rows;
    const digests = this.o.hasher.finish(n / 4);
    const e = this.entry;
    for (let k = 0; k < n; k += 4) {
      const occ = rows[k + 2] as number;
      const epoch = rows[k + 3] as number;
      copyRecordBytes(digests, k * 4, e, 0, DIGEST_BYTES);
      e.writeUInt32BE(rows[k + 1] as number, DIGEST_BYTES);
      e.writeUInt16BE(occ, 20);
      e.writeUInt16BE(epoch, 22);
      if (this.sent.roomy) this.sent.push(e, 0);
      else await this.sent.add(e, 0);
    }
  }

  /**
   * The ledger entries of the rows of records [first, last] that were sent, stamped
   * `sentAt`: a part's journal, written to `path`.
   */
  async journal(first: number, last: number, sentAt: Date, path: string): Promise<RecordWriter> {
    await this.sent.flush();
    let from = 0;
    for (let k = 0; k < this.marks.length; k += 2)
      if ((this.marks[k] as number) <= first) from = this.marks[k + 1] as number;
    const writer = new RecordWriter(path, ENTRY_BYTES);
    const out = Buffer.alloc(ENTRY_BYTES);
    const at = Math.floor(sentAt.getTime() / 1000);
    const handle = await open(this.sent.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(SENT_BYTES * 8192);
      for (let offset = from * SENT_BYTES; ;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
        if (bytesRead < SENT_BYTES) break;
        offset += bytesRead;
        for (let p = 0; p + SENT_BYTES <= bytesRead; p += SENT_BYTES) {
          const recordNo = buf.readUInt32BE(p + DIGEST_BYTES);
          if (recordNo > last) return writer;
          if (recordNo < first) continue;
          buf.copy(out, 0, p, p + DIGEST_BYTES);
          out.writeUInt32BE(at, 16);
          buf.copy(out, 20, p + 20, p + 24);
          await writer.add(out, 0);
        }
      }
      return writer;
    } finally {
      await handle.close();
    }
  }
}
