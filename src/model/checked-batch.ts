/** A record batch with a verdict per record: what validation hands to splitting. */
import type { RecordBatch } from './record-batch.js';

export const ROW_HEADER = 1;
export const ROW_BLANK = 2;
export const ROW_VALID = 3;
export const ROW_INVALID = 4;

export interface CheckedBatch {
  records: RecordBatch;
  /** ROW_HEADER, ROW_BLANK, ROW_VALID or ROW_INVALID per record. */
  status: Uint8Array;
  /** Data-record number per record (1-based), 0 for the header and blank lines. */
  recordNo: Float64Array;
}
