/** A record batch with a verdict per record: what validation hands to splitting. */
import type { RecordBatch } from './record-batch.js';

export const ROW_HEADER = 1;
export const ROW_BLANK = 2;
export const ROW_VALID = 3;
export const ROW_INVALID = 4;
/** Valid, but not sent: its campaign key was sent already (SPEC 8). */
export const ROW_SKIPPED = 5;

export interface CheckedBatch {
  records: RecordBatch;
  /** ROW_HEADER, ROW_BLANK, ROW_VALID or ROW_INVALID per record. */
  status: Uint8Array;
  /** Data-record number per record (1-based), 0 for the header and blank lines. */
  recordNo: Float64Array;
}

/**
 * Status and record-number arrays for checked batches, recycled in turn like the record
 * batches they describe (valid until two more batches have been produced).
 */
export class CheckedArrays {
  private readonly status = [new Uint8Array(4096), new Uint8Array(4096)];
  private readonly recordNo = [new Float64Array(4096), new Float64Array(4096)];
  private turn = 0;

  /** Zeroed arrays of `count` entries for the next batch. */
  next(count: number): { status: Uint8Array; recordNo: Float64Array } {
    this.turn ^= 1;
    const t = this.turn;
    if ((this.status[t] as Uint8Array).length < count) {
      this.status[t] = new Uint8Array(count * 2);
      this.recordNo[t] = new Float64Array(count * 2);
    }
    const status = (this.status[t] as Uint8Array).subarray(0, count);
    const recordNo = (this.recordNo[t] as Float64Array).subarray(0, count);
    status.fill(0);
    recordNo.fill(0);
    return { status, recordNo };
  }
}
