/**
 * A batch of CSV records as byte ranges into one buffer. The reading stage produces one
 * batch per input chunk; validation and splitting read fields straight from the bytes,
 * so a record that needs no change is never decoded or re-serialised.
 *
 * Columnar arrays instead of one object per record keep a 2-million-row file from
 * allocating 2 million objects per pass, and the arrays are recycled: a batch stays valid
 * until two more batches have been read. A stage that keeps anything longer copies it.
 */

/** The record is an empty physical line. */
export const RECORD_BLANK = 1;
/** The record is longer than the reader's retention limit; its fields are not kept. */
export const RECORD_TOO_LARGE = 2;
/** The record breaks RFC 4180 quoting; see `problems`. */
export const RECORD_MALFORMED = 4;
/** Some field of the record had a neutralising apostrophe removed (FIELD_NEUTRALISED). */
export const RECORD_NEUTRALISED = 8;

/** The field was enclosed in quotes. */
export const FIELD_QUOTED = 1;
/** The quoted field contains `""` escapes, so its bytes differ from its value. */
export const FIELD_ESCAPED = 2;
/**
 * The field's first byte is an apostrophe atomic-bulk wrote to neutralise a formula
 * (a re-read rejected.csv): `fStart` is past it, so the value is the user's original.
 */
export const FIELD_NEUTRALISED = 4;

export type QuoteProblem = 'stray-quote' | 'text-after-quote' | 'unclosed-quote';

export interface RecordProblem {
  kind: QuoteProblem;
  /** Physical line of the offending quote. */
  line: number;
  /** 0-based field index where the problem is. */
  field: number;
}

export type LineEnding = 'LF' | 'CRLF' | 'CR';

const QUOTE = 0x22;

export class RecordBatch {
  /** Number of records in the batch. */
  count = 0;
  /** Number of fields stored, over all records. */
  fieldTotal = 0;
  /** Physical line where each record starts. */
  line: Float64Array;
  /** Physical line where each record ends (differs when quoted fields hold line breaks). */
  endLine: Float64Array;
  /** Absolute byte offset of each record's first byte in the input (after any BOM). */
  absStart: Float64Array;
  /** Absolute byte offset just past each record's content, terminator excluded. */
  absEnd: Float64Array;
  /** Offset of each record's content in `buf` (meaningless for too-large records). */
  start: Int32Array;
  flags: Uint8Array;
  /** Index of each record's first field in the field arrays. */
  fieldFirst: Int32Array;
  fieldCount: Int32Array;
  /** Field content ranges in `buf`: quotes excluded, `""` escapes still in place. */
  fStart: Int32Array;
  fEnd: Int32Array;
  fFlags: Uint8Array;
  /** First quoting problem of each malformed record, by record index. */
  readonly problems = new Map<number, RecordProblem>();

  /** The bytes the offsets point into. */
  buf: Buffer;

  constructor(buf: Buffer, recordCapacity = 256, fieldCapacity = 2048) {
    this.buf = buf;
    this.line = new Float64Array(recordCapacity);
    this.endLine = new Float64Array(recordCapacity);
    this.absStart = new Float64Array(recordCapacity);
    this.absEnd = new Float64Array(recordCapacity);
    this.start = new Int32Array(recordCapacity);
    this.flags = new Uint8Array(recordCapacity);
    this.fieldFirst = new Int32Array(recordCapacity);
    this.fieldCount = new Int32Array(recordCapacity);
    this.fStart = new Int32Array(fieldCapacity);
    this.fEnd = new Int32Array(fieldCapacity);
    this.fFlags = new Uint8Array(fieldCapacity);
  }

  /** Empties the batch for reuse over new bytes, keeping its arrays. */
  reset(buf: Buffer): void {
    this.buf = buf;
    this.count = 0;
    this.fieldTotal = 0;
    this.problems.clear();
  }

  /** Appends a field; grows the field arrays when full. */
  pushField(start: number, end: number, flags: number): void {
    const k = this.fieldTotal;
    if (k === this.fStart.length) this.growFields();
    this.fStart[k] = start;
    this.fEnd[k] = end;
    this.fFlags[k] = flags;
    this.fieldTotal = k + 1;
  }

  /** Reserves the next record slot and returns its index. */
  nextRecord(): number {
    const i = this.count;
    if (i === this.line.length) this.growRecords();
    this.count = i + 1;
    return i;
  }

  private growFields(): void {
    const n = this.fStart.length * 2;
    this.fStart = grow(this.fStart, new Int32Array(n));
    this.fEnd = grow(this.fEnd, new Int32Array(n));
    this.fFlags = grow(this.fFlags, new Uint8Array(n));
  }

  private growRecords(): void {
    const n = this.line.length * 2;
    this.line = grow(this.line, new Float64Array(n));
    this.endLine = grow(this.endLine, new Float64Array(n));
    this.absStart = grow(this.absStart, new Float64Array(n));
    this.absEnd = grow(this.absEnd, new Float64Array(n));
    this.start = grow(this.start, new Int32Array(n));
    this.flags = grow(this.flags, new Uint8Array(n));
    this.fieldFirst = grow(this.fieldFirst, new Int32Array(n));
    this.fieldCount = grow(this.fieldCount, new Int32Array(n));
  }

  /** Byte length of record i's content, terminator excluded. */
  byteLength(i: number): number {
    return (this.absEnd[i] as number) - (this.absStart[i] as number);
  }

  /** Record i's content bytes, as in the input (terminator excluded). */
  bytes(i: number): Buffer {
    const s = this.start[i] as number;
    return this.buf.subarray(s, s + this.byteLength(i));
  }

  /** Offset of field k's first raw byte: its opening quote or neutralising apostrophe. */
  rawStart(k: number): number {
    const flags = this.fFlags[k] as number;
    return (
      (this.fStart[k] as number) -
      ((flags & FIELD_QUOTED) !== 0 ? 1 : 0) -
      ((flags & FIELD_NEUTRALISED) !== 0 ? 1 : 0)
    );
  }

  /** Offset just past field k's last raw byte (its closing quote, if quoted). */
  rawEnd(k: number): number {
    return (this.fEnd[k] as number) + (((this.fFlags[k] as number) & FIELD_QUOTED) !== 0 ? 1 : 0);
  }

  /**
   * The separator named by record i when it is Excel's separator line (`sep=;` as the
   * file's first record, one field), else null.
   */
  separatorLine(i: number): string | null {
    if (((this.flags[i] as number) & RECORD_TOO_LARGE) !== 0) return null;
    const n = this.fieldCount[i] as number;
    // sep=, is read as two fields, "sep=" and "".
    if (n === 2) return /^sep=$/i.test(this.fieldText(i, 0)) && this.isEmpty(i, 1) ? ',' : null;
    if (n !== 1) return null;
    const m = /^sep=(.)$/i.exec(this.fieldText(i, 0));
    return m === null ? null : (m[1] as string);
  }

  /** True when field f of record i holds no characters. */
  isEmpty(i: number, f: number): boolean {
    const k = (this.fieldFirst[i] as number) + f;
    return this.fStart[k] === this.fEnd[k];
  }

  /** The value of field f of record i as bytes, with `""` escapes resolved. */
  fieldBytes(i: number, f: number): Buffer {
    const k = (this.fieldFirst[i] as number) + f;
    const s = this.fStart[k] as number;
    const e = this.fEnd[k] as number;
    if (((this.fFlags[k] as number) & FIELD_ESCAPED) === 0) return this.buf.subarray(s, e);
    return unescapeQuotes(this.buf, s, e);
  }

  /** The value of field f of record i as text. */
  fieldText(i: number, f: number): string {
    const k = (this.fieldFirst[i] as number) + f;
    const s = this.fStart[k] as number;
    const e = this.fEnd[k] as number;
    if (((this.fFlags[k] as number) & FIELD_ESCAPED) === 0) return this.buf.toString('utf8', s, e);
    return unescapeQuotes(this.buf, s, e).toString('utf8');
  }

  /** Every field of record i as text (used for headers and rejected rows, not hot paths). */
  fields(i: number): string[] {
    const out: string[] = [];
    const n = this.fieldCount[i] as number;
    for (let f = 0; f < n; f++) out.push(this.fieldText(i, f));
    return out;
  }
}

function grow<T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Copies bytes [s, e) of buf with every `""` pair reduced to one quote. */
export function unescapeQuotes(buf: Buffer, s: number, e: number): Buffer {
  const out = Buffer.allocUnsafe(e - s);
  let n = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p] as number;
    out[n++] = c;
    if (c === QUOTE && buf[p + 1] === QUOTE && p + 1 < e) p++;
  }
  return out.subarray(0, n);
}
