/**
 * The reading stage: turns a stream of byte chunks into record batches, and on the way
 * hashes the input, counts its bytes, strips a UTF-8 byte-order mark and finds encoding
 * faults. One pass, no buffering beyond the record being read.
 */
import { createHash } from 'node:crypto';
import {
  FIELD_NEUTRALISED,
  RECORD_BLANK,
  RECORD_NEUTRALISED,
  RECORD_TOO_LARGE,
  type RecordBatch,
} from '../model/record-batch.js';
import { APOSTROPHE } from '../model/neutralise.js';
import { FileStart, type LineMap } from '../model/line-map.js';
import {
  CHECKPOINT_BYTES,
  InputCheckpoints,
  type ForeignEncoding,
  type ReadBatch,
  type ReadSummary,
} from '../model/read-batch.js';
import { AtomicBulkError } from '../model/errors.js';
import { Tokenizer } from './tokenizer.js';
import { Utf8Checker } from './utf8.js';

export type { ForeignEncoding, ReadBatch, ReadSummary } from '../model/read-batch.js';

export interface RecordReaderOptions {
  /** See TokenizerOptions.maxRecordBytes. */
  maxRecordBytes?: number;
  /** Called with the size of each chunk as it is read, for progress. */
  onBytes?: (bytes: number) => void;
  /**
   * When the header ends with rejected.csv's `_line`,`_errors` columns, read every cell
   * without the apostrophe atomic-bulk added to neutralise formulas (read/neutralise.ts).
   */
  restoreRejected?: boolean;
  /** Filled with where each file of a multi-file input begins (model/line-map.ts). */
  lines?: LineMap;
  /**
   * A later pass over an input the first pass summarised: no byte reaches the tokenizer
   * before the prefix digest that covers it matches the first pass's, so a file rewritten
   * between passes (even with its size and mtime kept) stops the pass before any of its
   * changed bytes is used. `name` names the input in the error.
   */
  verify?: { summary: ReadSummary; name: string };
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/**
 * Hashed where a file of a multi-file input ended inside a quoted field, so that input
 * and the same bytes joined into one file (where the quote would run on) are not one run.
 */
const OPEN_RECORD_MARK = Buffer.from('\u0000atomic-bulk:file-ended-in-quotes\u0000');

export class RecordReader {
  private readonly tokenizer: Tokenizer;
  private readonly utf8 = new Utf8Checker();
  private readonly hash = createHash('sha256');
  private readonly options: RecordReaderOptions;
  private bytes = 0;
  private readonly checkpoints = new InputCheckpoints();
  /** Next checkpoint: its offset, and its index (verify mode). */
  private nextCheckpoint = CHECKPOINT_BYTES;
  private checkpointIndex = 0;
  private bom = false;
  private foreign: ForeignEncoding | null = null;
  private done = false;
  /** Whether the input is a rejected.csv, once its header has been seen. */
  private rejected: boolean | null = null;

  constructor(options: RecordReaderOptions = {}) {
    this.options = options;
    this.tokenizer = new Tokenizer({ maxRecordBytes: options.maxRecordBytes });
  }

  /** Yields one batch per chunk (empty batches are skipped). */
  async *batches(
    source: AsyncIterable<Uint8Array | FileStart> | Iterable<Uint8Array | FileStart>,
  ): AsyncGenerator<ReadBatch> {
    let head: Buffer | null = Buffer.alloc(0);
    let offset = 0;
    for await (const raw of this.hashed(source)) {
      if (raw instanceof FileStart) {
        // A later file of a multi-file input: end the file before it, note where it starts.
        if (head !== null && head.length > 0) {
          const chunk = this.sniff(head);
          head = null;
          const batch = this.foreign === null ? this.consume(chunk, offset) : null;
          offset += chunk.length;
          if (batch !== null) yield batch;
        }
        if (offset > 0 && this.foreign === null) {
          const { records, pending } = this.tokenizer.endFile();
          if (pending) this.hash.update(OPEN_RECORD_MARK);
          this.restore(records);
          if (records.count > 0) yield { records, encodingProblems: [] };
        }
        this.options.lines?.enter(raw, this.tokenizer.nextLine);
        continue;
      }
      let chunk = raw;
      if (head !== null) {
        // The first bytes decide the encoding; gather at least four of them.
        head = Buffer.concat([head, chunk]);
        if (head.length < 4) continue;
        chunk = this.sniff(head);
        head = null;
      }
      if (this.foreign !== null) continue;
      const batch = this.consume(chunk, offset);
      offset += chunk.length;
      if (batch !== null) yield batch;
    }
    if (head !== null && head.length > 0) {
      const chunk = this.sniff(head);
      if (this.foreign === null) {
        const batch = this.consume(chunk, offset);
        if (batch !== null) yield batch;
      }
    }
    if (this.foreign === null) {
      const encodingProblems = this.utf8.finish();
      const records = this.tokenizer.finish();
      this.restore(records);
      if (records.count > 0 || encodingProblems.length > 0) yield { records, encodingProblems };
    }
    this.done = true;
  }

  /**
   * Hashes and counts the input on its way to the tokenizer, taking prefix digests every
   * CHECKPOINT_BYTES and at every file start. In verify mode, bytes are held until the
   * digest that covers them matches the first pass's (at most CHECKPOINT_BYTES are held).
   */
  private async *hashed(
    source: AsyncIterable<Uint8Array | FileStart> | Iterable<Uint8Array | FileStart>,
  ): AsyncGenerator<Buffer | FileStart> {
    const verifying = this.options.verify !== undefined;
    const held: Buffer[] = [];
    const release = function* () {
      yield* held;
      held.length = 0;
    };
    for await (const raw of source) {
      if (raw instanceof FileStart) {
        this.checkpoint();
        yield* release();
        yield raw;
        continue;
      }
      const chunk = Buffer.isBuffer(raw)
        ? raw
        : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
      let p = 0;
      while (p < chunk.length) {
        const take = Math.min(chunk.length - p, this.nextCheckpoint - this.bytes);
        const piece = chunk.subarray(p, p + take);
        this.hash.update(piece);
        this.bytes += take;
        p += take;
        const boundary = this.bytes === this.nextCheckpoint;
        if (boundary) this.checkpoint();
        if (!verifying) continue;
        if (!boundary) held.push(Buffer.from(piece));
        else {
          yield* release();
          yield piece;
        }
      }
      this.options.onBytes?.(chunk.length);
      if (!verifying) yield chunk;
    }
    if (verifying) this.verifyEnd();
    yield* release();
  }

  /** Takes (first pass) or checks (verify mode) the digest of everything hashed so far. */
  private checkpoint(): void {
    const digest = this.hash.copy().digest();
    this.nextCheckpoint = this.bytes + CHECKPOINT_BYTES;
    const verify = this.options.verify;
    if (verify === undefined) {
      this.checkpoints.add(this.bytes, digest);
      return;
    }
    if (!verify.summary.checkpoints.matches(this.checkpointIndex++, this.bytes, digest))
      throw this.changed(verify.name);
  }

  private verifyEnd(): void {
    const { summary, name } = this.options.verify as NonNullable<RecordReaderOptions['verify']>;
    if (
      this.checkpointIndex !== summary.checkpoints.count ||
      this.bytes !== summary.bytes ||
      this.hash.copy().digest('hex') !== summary.sha256
    )
      throw this.changed(name);
  }

  private changed(name: string): AtomicBulkError {
    return new AtomicBulkError(
      'INPUT',
      `Input ${name} changed since it was validated: its bytes from line ${this.options.lines?.multiFile === true ? this.options.lines.cell(this.tokenizer.nextLine) : this.tokenizer.nextLine} on are not the ones checked, so nothing from there on is used.`,
      {
        hint: 'Let the export finish writing, then run again: the changed input is a new run, with new flowInvocationIds.',
      },
    );
  }

  /** Totals for the whole input; complete once `batches` has been consumed. */
  summary(): ReadSummary {
    if (!this.done) throw new Error('RecordReader.summary() called before the input was read');
    return {
      bytes: this.bytes,
      sha256: this.hash.copy().digest('hex'),
      bom: this.bom,
      foreignEncoding: this.foreign,
      lineEndings: { ...this.tokenizer.lineEndings },
      checkpoints: this.checkpoints,
    };
  }

  private sniff(head: Buffer): Buffer {
    if (head.subarray(0, 3).equals(UTF8_BOM)) {
      this.bom = true;
      return head.subarray(3);
    }
    const b0 = head[0];
    const b1 = head[1];
    if (b0 === 0xff && b1 === 0xfe) {
      this.foreign = head[2] === 0 && head[3] === 0 ? 'UTF-32LE' : 'UTF-16LE';
    } else if (b0 === 0xfe && b1 === 0xff) {
      this.foreign = 'UTF-16BE';
    } else if (b0 === 0 && b1 === 0 && head[2] === 0xfe && head[3] === 0xff) {
      this.foreign = 'UTF-32BE';
    }
    return head;
  }

  private consume(chunk: Buffer, offset: number): ReadBatch | null {
    if (chunk.length === 0) return null;
    const encodingProblems = this.utf8.push(chunk, offset);
    const records = this.tokenizer.push(chunk);
    if (records.count === 0 && encodingProblems.length === 0) return null;
    this.restore(records);
    return { records, encodingProblems };
  }

  /** Marks neutralised cells of a re-read rejected.csv (see RecordReaderOptions). */
  private restore(b: RecordBatch): void {
    if (this.options.restoreRejected !== true || this.rejected === false) return;
    for (let i = 0; i < b.count; i++) {
      const flags = b.flags[i] as number;
      if ((flags & RECORD_BLANK) !== 0) continue;
      if (this.rejected === null) {
        const n = b.fieldCount[i] as number;
        this.rejected =
          (flags & RECORD_TOO_LARGE) === 0 &&
          n >= 2 &&
          b.fieldText(i, n - 2) === '_line' &&
          b.fieldText(i, n - 1) === '_errors';
        if (!this.rejected) return;
      }
      if ((flags & RECORD_TOO_LARGE) !== 0) continue;
      const first = b.fieldFirst[i] as number;
      const last = first + (b.fieldCount[i] as number);
      for (let k = first; k < last; k++) {
        const s = b.fStart[k] as number;
        if (s === b.fEnd[k] || b.buf[s] !== APOSTROPHE) continue;
        b.fStart[k] = s + 1;
        b.fFlags[k] = (b.fFlags[k] as number) | FIELD_NEUTRALISED;
        b.flags[i] = (b.flags[i] as number) | RECORD_NEUTRALISED;
      }
    }
  }
}
