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
  /** Prefix digests a later pass verifies against (InputCheckpoints). */
  checkpoints: InputCheckpoints;
}

/**
 * Digests of the input's prefixes, taken by the first pass every `CHECKPOINT_BYTES` and
 * where each file of a multi-file input begins, so a later pass can tell, before it hands
 * on a byte, that the byte is one the first pass checked (read/record-reader.ts). About
 * 40 bytes per MiB of input.
 */
export class InputCheckpoints {
  private readonly offsets: number[] = [];
  private readonly digests: Buffer[] = [];

  add(offset: number, digest: Buffer): void {
    this.offsets.push(offset);
    this.digests.push(digest);
  }

  get count(): number {
    return this.offsets.length;
  }

  /** True when checkpoint `k` was taken at `offset` with `digest`. */
  matches(k: number, offset: number, digest: Buffer): boolean {
    const expected = this.digests[k];
    return this.offsets[k] === offset && expected !== undefined && expected.equals(digest);
  }
}

/** Distance between two checkpoints: a later pass holds at most this much unchecked input. */
export const CHECKPOINT_BYTES = 1 << 20;
