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
import { DECISION_BYTES, keyPositions, keyValues, SEND_AGAIN, SKIP_SENT } from './check.js';
import { ENTRY_BYTES } from './ledger.js';
import { RecordWriter, type Cursor } from './sorted-runs.js';

/** digest (16) | record number (u32) | occurrence (u16) | epoch (u16). */
const SENT_BYTES = 24;

export interface SkippedRow {
  records: RecordBatch;
  index: number;
  /** When the key was last sent (seconds since the epoch), or null for a repeat in this run. */
  lastSentAt: number | null;
  /** For a repeat: the data-record number of the row of this run that is sent instead. */
  repeatOf: number;
}

export interface CampaignPassOptions {
  hasher: KeyHasher;
  keyColumns: readonly string[];
  ids: CampaignIds;
  /** Decisions sorted by record number. */
  decisions: Cursor;
  /** The ledger's epoch: a new key's ids are made with it. */
  epoch: number;
  workDir: string;
  onSkipped: ((row: SkippedRow) => Promise<void>) | null;
}

export class CampaignPass {
  private positions: number[] = [];
  private readonly sent: RecordWriter;
  /** (first record number of a stretch, index of its first sent entry), ascending. */
  private readonly marks: number[] = [];
  private haveDecision: boolean | null = null;
  private readonly entry = Buffer.alloc(SENT_BYTES);
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

  private async decision(recordNo: number): Promise<number> {
    const d = this.o.decisions;
    if (this.haveDecision === null) this.haveDecision = await d.fill();
    while (this.haveDecision && d.buf.readUInt32BE(d.pos) < recordNo) {
      d.pos += DECISION_BYTES;
      if (d.pos >= d.end) this.haveDecision = await d.fill();
    }
    return this.haveDecision && d.buf.readUInt32BE(d.pos) === recordNo
      ? (d.buf[d.pos + 4] as number)
      : 0;
  }

  private async mark(checked: CheckedBatch): Promise<void> {
    const b = checked.records;
    const { ids, hasher } = this.o;
    ids.reserve(b.count);
    let marked = false;
    for (let i = 0; i < b.count; i++) {
      const status = checked.status[i] as number;
      if (status === ROW_HEADER) this.positions = keyPositions(b.fields(i), this.o.keyColumns);
      if (status !== ROW_VALID) continue;
      const recordNo = checked.recordNo[i] as number;
      if (!marked) {
        this.marks.push(recordNo, this.sent.entries);
        marked = true;
      }
      const kind = await this.decision(recordNo);
      let occ = 0;
      let epoch = this.o.epoch;
      const d = this.o.decisions;
      if (kind === SEND_AGAIN) {
        occ = d.buf.readUInt16BE(d.pos + 6);
        epoch = d.buf.readUInt16BE(d.pos + 8);
      } else if (kind !== 0) {
        checked.status[i] = ROW_SKIPPED;
        this.skipped++;
        const extra = d.buf.readUInt32BE(d.pos + 10);
        await this.o.onSkipped?.({
          records: b,
          index: i,
          lastSentAt: kind === SKIP_SENT ? extra : null,
          repeatOf: kind === SKIP_SENT ? 0 : extra,
        });
        continue;
      }
      const e = this.entry;
      hasher.digest(keyValues(b, i, this.positions), e, 0);
      ids.set(i, e, 0, epoch, occ);
      e.writeUInt32BE(recordNo, DIGEST_BYTES);
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
