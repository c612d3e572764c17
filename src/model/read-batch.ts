/**
 * What the reading stage hands to the stages after it: record batches with the encoding
 * faults found in their bytes, and, at the end, a summary of the whole input. Defined
 * here, not in read/, so validation and splitting depend on the data, not on the reader.
 */
import type { RecordBatch } from './record-batch.js';

export type EncodingFault = 'invalid-utf8' | 'nul-byte';

export interface EncodingProblem {
  /** Absolute offset of the first byte of the bad sequence. */
  offset: number;
  kind: EncodingFault;
}

export interface LineEndingCounts {
  LF: number;
  CRLF: number;
  CR: number;
}

export interface ReadBatch {
  records: RecordBatch;
  /** Encoding faults found in the bytes of this chunk, by absolute offset, ascending. */
  encodingProblems: EncodingProblem[];
}

/** Encodings we recognise by their byte-order mark but do not read. */
export type ForeignEncoding = 'UTF-16LE' | 'UTF-16BE' | 'UTF-32LE' | 'UTF-32BE';

export interface ReadSummary {
  /** Bytes read, BOM included. */
  bytes: number;
  /** SHA-256 of every input byte (decompressed), hex. */
  sha256: string;
  /** True when a UTF-8 byte-order mark was found and stripped. */
  bom: boolean;
  /** Set when the input starts with the byte-order mark of an encoding other than UTF-8. */
  foreignEncoding: ForeignEncoding | null;
  lineEndings: LineEndingCounts;
}
