/**
 * A byte-level RFC 4180 tokenizer: comma delimiter, `"` quotes with `""` escapes, LF,
 * CRLF and lone CR as record terminators, line breaks allowed inside quotes.
 *
 * Design choices:
 * - It works on bytes, not decoded text, so record boundaries map to exact byte ranges
 *   that can be copied into parts unchanged and counted against the part budget.
 * - It is push-based and pure: `push(chunk)` returns the records completed by that chunk,
 *   `finish()` the last one. Any chunking of the same input gives the same records.
 * - It never throws on bad input. Quoting mistakes are recorded on the record and the
 *   tokenizer recovers the way a reader would expect (a stray quote is kept as text).
 * - A record longer than `maxRecordBytes` stops being retained the moment that is known,
 *   so a 100 MB field or an unclosed quote swallowing the file cannot exhaust memory.
 */
import {
  FIELD_ESCAPED,
  FIELD_QUOTED,
  RECORD_BLANK,
  RECORD_MALFORMED,
  RECORD_TOO_LARGE,
  RecordBatch,
  type LineEnding,
  type QuoteProblem,
} from '../model/record-batch.js';

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** At the start of a field, nothing consumed yet. */
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** A quoted field's closing quote was seen; a delimiter or terminator must follow. */
const AFTER_CLOSE = 3;

export interface TokenizerOptions {
  /**
   * Longest record, in bytes, whose content is kept. Longer records are reported with
   * RECORD_TOO_LARGE and no fields. Bounds memory to about this much plus one chunk.
   * Default: 64 MiB.
   */
  maxRecordBytes?: number;
}

export type { LineEndingCounts } from '../model/read-batch.js';
import type { LineEndingCounts } from '../model/read-batch.js';

const EMPTY = Buffer.alloc(0);

export class Tokenizer {
  private readonly maxRecordBytes: number;
  /** Working buffer: the unfinished record carried over, then the newest chunk. */
  private buf: Buffer = EMPTY;
  /** Absolute input offset of buf[0]. */
  private base = 0;
  private pos = 0;
  private state = FIELD_START;
  private recStart = 0;
  private recAbsStart = 0;
  private recLine = 1;
  private line = 1;
  private fieldStart = 0;
  private fieldFlags = 0;
  private contentEnd = 0;
  private quoteLine = 0;
  /** The current record exceeded maxRecordBytes; its bytes are no longer kept. */
  private skipping = false;
  /** Index in the batch's field arrays where the current record's fields begin. */
  private fieldFirst = 0;
  /** Fields of the unfinished record, held between a push and the next one (reused arrays). */
  private tailStart = new Int32Array(256);
  private tailEnd = new Int32Array(256);
  private tailFlags = new Uint8Array(256);
  private tailCount = 0;
  /**
   * Two batches and two byte buffers used in turn, so memory is recycled instead of
   * reallocated for every chunk, and the caller may reuse its chunk buffer after push().
   */
  private readonly pool = [new RecordBatch(EMPTY), new RecordBatch(EMPTY)];
  private readonly slots: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];
  private turn = 0;
  private problemKind: QuoteProblem | undefined;
  private problemLine = 0;
  private problemField = 0;
  private batch: RecordBatch = new RecordBatch(EMPTY);
  private lf = 0;
  private crlf = 0;
  private cr = 0;

  constructor(options: TokenizerOptions = {}) {
    this.maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
  }

  /** Record terminators seen so far, by kind. */
  get lineEndings(): LineEndingCounts {
    return { LF: this.lf, CRLF: this.crlf, CR: this.cr };
  }

  /** Consumes a chunk and returns the records it completed. */
  push(chunk: Buffer): RecordBatch {
    this.append(chunk);
    this.scan(false);
    return this.carry();
  }

  /** Ends the input and returns the last record, if the input did not end with a terminator. */
  finish(): RecordBatch {
    this.append(EMPTY);
    this.scan(true);
    this.closeOpenRecord();
    const batch = this.batch;
    this.buf = EMPTY;
    this.pos = 0;
    this.recStart = 0;
    return batch;
  }

  /**
   * Ends one file of a multi-file input and goes on with the next (read/multi-input.ts):
   * a record the file left open — only possible inside an unclosed quote, since a newline
   * ends every file — ends here as malformed, and the next file starts on a new line.
   * `pending` says whether that happened.
   */
  endFile(): { records: RecordBatch; pending: boolean } {
    this.append(EMPTY);
    this.scan(true);
    const pending = this.closeOpenRecord();
    if (pending) {
      this.line++;
      this.recLine = this.line;
    }
    return { records: this.batch, pending };
  }

  /** The line the next record starts on. */
  get nextLine(): number {
    return this.line;
  }

  /** Ends a record the input stopped in the middle of (no terminator); true if there was one. */
  private closeOpenRecord(): boolean {
    const pending =
      this.state !== FIELD_START ||
      this.batch.fieldTotal > this.fieldFirst ||
      this.pos > this.recStart ||
      this.skipping;
    if (!pending) return false;
    if (this.state === QUOTED) this.problem('unclosed-quote', this.quoteLine);
    this.endField(this.pos);
    this.endRecord(this.pos, this.pos, null);
    return true;
  }

  private append(chunk: Buffer): void {
    // Keep the unfinished record, or only the unconsumed lookahead byte when skipping.
    const from = this.skipping ? this.pos : this.recStart;
    const old = this.buf;
    this.base += from;
    this.pos -= from;
    this.recStart -= from;
    this.fieldStart -= from;
    this.contentEnd -= from;
    this.turn ^= 1;
    const keep = Math.max(0, old.length - from);
    const need = keep + chunk.length;
    let slot = this.slots[this.turn] as Buffer;
    // Grow for a long record; shrink again once it has passed.
    if (slot.length < need || slot.length > Math.max(4 * need, 8 << 20)) {
      slot = Buffer.allocUnsafe(Math.max(need, 1 << 20));
      this.slots[this.turn] = slot;
    }
    if (keep > 0) old.copy(slot, 0, from);
    chunk.copy(slot, keep);
    this.buf = slot.subarray(0, keep + chunk.length);
    const next = this.pool[this.turn] as RecordBatch;
    next.reset(this.buf);
    for (let k = 0; k < this.tailCount; k++) {
      next.pushField(
        (this.tailStart[k] as number) - from,
        (this.tailEnd[k] as number) - from,
        this.tailFlags[k] as number,
      );
    }
    this.tailCount = 0;
    this.batch = next;
    this.fieldFirst = 0;
  }

  private truncateFields(b: RecordBatch, length: number): void {
    b.fieldTotal = length;
  }

  /**
   * Ends a push: decides whether the unfinished record is still worth keeping, and takes
   * its fields out of the batch about to be returned.
   */
  private carry(): RecordBatch {
    const b = this.batch;
    if (!this.skipping && this.pos - this.recStart > this.maxRecordBytes) this.skipping = true;
    if (!this.skipping) {
      const n = b.fieldTotal - this.fieldFirst;
      if (n > this.tailStart.length) {
        const size = Math.max(n, this.tailStart.length * 2);
        this.tailStart = new Int32Array(size);
        this.tailEnd = new Int32Array(size);
        this.tailFlags = new Uint8Array(size);
      }
      this.tailStart.set(b.fStart.subarray(this.fieldFirst, b.fieldTotal));
      this.tailEnd.set(b.fEnd.subarray(this.fieldFirst, b.fieldTotal));
      this.tailFlags.set(b.fFlags.subarray(this.fieldFirst, b.fieldTotal));
      this.tailCount = n;
    }
    this.truncateFields(b, this.fieldFirst);
    return b;
  }

  private problem(kind: QuoteProblem, line: number): void {
    if (this.problemKind !== undefined) return;
    this.problemKind = kind;
    this.problemLine = line;
    this.problemField = this.batch.fieldTotal - this.fieldFirst;
  }

  private endField(end: number): void {
    if (this.skipping) return;
    this.batch.pushField(
      this.fieldStart,
      this.state === AFTER_CLOSE ? this.contentEnd : end,
      this.fieldFlags,
    );
  }

  /**
   * Closes the current record whose content ends at `end`; `next` is where the following
   * record starts (after the terminator). `ending` is null at end of input.
   */
  private endRecord(end: number, next: number, ending: LineEnding | null): void {
    const b = this.batch;
    const i = b.nextRecord();
    const absEnd = this.base + end;
    const length = absEnd - this.recAbsStart;
    let flags = 0;
    b.line[i] = this.recLine;
    b.endLine[i] = this.line;
    b.absStart[i] = this.recAbsStart;
    b.absEnd[i] = absEnd;
    b.start[i] = this.recStart;
    const first = this.fieldFirst;
    b.fieldFirst[i] = first;
    if (this.skipping || length > this.maxRecordBytes) {
      flags |= RECORD_TOO_LARGE;
      this.truncateFields(b, first);
      b.fieldCount[i] = 0;
    } else {
      const n = b.fieldTotal - first;
      if (n === 1 && length === 0 && b.fFlags[first] === 0 && ending !== null)
        flags |= RECORD_BLANK;
      b.fieldCount[i] = n;
    }
    if (this.problemKind !== undefined) {
      flags |= RECORD_MALFORMED;
      b.problems.set(i, {
        kind: this.problemKind,
        line: this.problemLine,
        field: this.problemField,
      });
      this.problemKind = undefined;
    }
    b.flags[i] = flags;
    if (ending === 'LF') this.lf++;
    else if (ending === 'CRLF') this.crlf++;
    else if (ending === 'CR') this.cr++;
    if (ending !== null) this.line++;
    this.fieldFirst = b.fieldTotal;
    this.skipping = false;
    this.recStart = next;
    this.recAbsStart = this.base + next;
    this.recLine = this.line;
    this.fieldStart = next;
    this.fieldFlags = 0;
    this.state = FIELD_START;
  }

  /**
   * Tokenizes from `pos` to the end of the working buffer. Bytes whose meaning depends on
   * the next byte (a CR, a quote inside quotes) are left unconsumed at the end of a chunk
   * unless `final`, so chunk boundaries never change the result.
   */
  // eslint-disable-next-line max-lines-per-function -- hot loop: the per-byte CSV state machine; split, it runs measurably slower
  private scan(final: boolean): void {
    const buf = this.buf;
    const len = buf.length;
    let pos = this.pos;
    let state = this.state;
    while (pos < len) {
      const c = buf[pos] as number;
      if (state === QUOTED) {
        if (c === QUOTE) {
          if (pos + 1 >= len && !final) break;
          if (buf[pos + 1] === QUOTE && pos + 1 < len) {
            this.fieldFlags |= FIELD_ESCAPED;
            pos += 2;
            continue;
          }
          this.contentEnd = pos;
          state = AFTER_CLOSE;
          pos++;
          continue;
        }
        if (c === LF) {
          this.line++;
          pos++;
        } else if (c === CR) {
          if (pos + 1 >= len && !final) break;
          this.line++;
          pos += buf[pos + 1] === LF && pos + 1 < len ? 2 : 1;
        } else {
          pos++;
        }
        while (pos < len) {
          const d = buf[pos] as number;
          if (d === QUOTE || d === LF || d === CR) break;
          pos++;
        }
        continue;
      }
      // FIELD_START, UNQUOTED or AFTER_CLOSE: a delimiter or terminator ends the field.
      if (c === COMMA) {
        this.state = state;
        this.endField(pos);
        pos++;
        this.fieldStart = pos;
        this.fieldFlags = 0;
        state = FIELD_START;
        continue;
      }
      if (c === LF || c === CR) {
        let next = pos + 1;
        let ending: LineEnding = 'LF';
        if (c === CR) {
          if (next >= len && !final) break;
          ending = 'CR';
          if (next < len && buf[next] === LF) {
            ending = 'CRLF';
            next++;
          }
        }
        this.state = state;
        this.endField(pos);
        this.endRecord(pos, next, ending);
        pos = next;
        state = FIELD_START;
        continue;
      }
      if (state === FIELD_START) {
        if (c === QUOTE) {
          state = QUOTED;
          this.fieldFlags = FIELD_QUOTED;
          this.fieldStart = pos + 1;
          this.quoteLine = this.line;
          pos++;
          continue;
        }
        state = UNQUOTED;
      } else if (state === AFTER_CLOSE) {
        // Text after a closing quote: keep it in the field, from the opening quote on.
        this.problem('text-after-quote', this.line);
        this.fieldStart--;
        this.fieldFlags = 0;
        state = UNQUOTED;
      } else if (c === QUOTE) {
        this.problem('stray-quote', this.line);
      }
      pos++;
      while (pos < len) {
        const d = buf[pos] as number;
        if (d === COMMA || d === LF || d === CR || d === QUOTE) break;
        pos++;
      }
    }
    this.pos = pos;
    this.state = state;
  }
}
