/**
 * The splitting stage: turns checked record batches into parts that each start with the
 * header, hold whole records only, end lines with LF, carry no BOM, and are at most
 * `maxPartBytes` long, exactly, header and line endings included. Boundaries depend only
 * on the input and the options, so the same input always gives the same parts.
 *
 * A record that needs no change is copied from its original bytes; the stage can also
 * drop the trailing `_line`/`_errors` columns of a re-sent rejected.csv, fill empty
 * flowInvocationId cells, or append a flowInvocationId column. Where the bytes go is the
 * caller's `PartSink`; this module does no file I/O of its own.
 */
import { createHash, type Hash } from 'node:crypto';
import { ROW_HEADER, ROW_VALID, type CheckedBatch } from '../model/checked-batch.js';
import type { Part } from '../model/part.js';
import {
  FIELD_NEUTRALISED,
  RECORD_NEUTRALISED,
  RECORD_TOO_LARGE,
  type RecordBatch,
} from '../model/record-batch.js';
import {
  contentEnd,
  INVOCATION_ID_HEADER,
  outputHeaderBytes,
  outputRowBytes,
  type RowLayout,
} from '../model/row-layout.js';
import { ID_LENGTH } from '../model/row-layout.js';

/** Where assigned flowInvocationIds come from: a batch at a time, then one per record. */
export interface IdSource {
  /** Makes the ids of the batch's first `count` records (by their record numbers). */
  prepare(recordNos: ArrayLike<number>, count: number): void;
  /** Writes the id of the batch's record k as 36 ASCII bytes at `out[at]`. */
  write(k: number, out: Buffer, at: number): void;
}

export {
  COPY_LAYOUT,
  INVOCATION_ID_HEADER,
  sendLayout,
  type RowLayout,
} from '../model/row-layout.js';

/**
 * Copies bytes [s, e) of record i to dst[at], leaving out neutralising apostrophes, so a
 * re-sent rejected.csv carries the user's original values. Returns the bytes written.
 */
// eslint-disable-next-line max-params -- hot loop: per row: copies a record's bytes into a part buffer in place
function copyRecord(
  b: RecordBatch,
  i: number,
  s: number,
  e: number,
  dst: Uint8Array,
  at: number,
): number {
  if (((b.flags[i] as number) & RECORD_NEUTRALISED) === 0) return copyBytes(b.buf, s, e, dst, at);
  let o = at;
  let from = s;
  const first = b.fieldFirst[i] as number;
  const last = first + (b.fieldCount[i] as number);
  for (let k = first; k < last; k++) {
    if (((b.fFlags[k] as number) & FIELD_NEUTRALISED) === 0) continue;
    const skip = (b.fStart[k] as number) - 1;
    if (skip < from || skip >= e) continue;
    o += copyBytes(b.buf, from, skip, dst, o);
    from = skip + 1;
  }
  o += copyBytes(b.buf, from, e, dst, o);
  return o - at;
}

/** Where parts are written. */
export interface PartSink {
  create(number: number): Promise<PartOutput>;
}

export interface PartOutput {
  write(bytes: Uint8Array): Promise<void>;
  /** Receives `line,flowInvocationId\n` lines for the part's rows, when ids are used. */
  writeIds(bytes: Uint8Array): Promise<void>;
  /** Completes the part; returns where its bytes and its ids are. */
  close(): Promise<{ path: string; idsPath: string | null; idsSha256: string | null }>;
  discard(): Promise<void>;
}

export interface SplitterOptions {
  /** Largest part in bytes, header and line endings included. */
  maxPartBytes: number;
  layout: RowLayout;
  /** Id source for filled or appended flowInvocationIds; required when the layout assigns ids. */
  ids: IdSource | null;
  sink: PartSink;
  /** Most rows in a part (--rate cuts parts to the pace). Default: no limit. */
  maxRows?: number;
  /** Which records go into parts. Default: those validation found valid. */
  keep?: (status: number, recordNo: number) => boolean;
  /** Size of the write buffer; memory per part in progress. Default 1 MiB. */
  bufferBytes?: number;
}

const LF = 0x0a;
const COMMA = 0x2c;
/** Room an ordinary id line needs: line number, comma, id, LF, with margin. */
const MAX_ID_LINE = 24 + 1 + 256 + 1;

interface OpenPart {
  number: number;
  output: PartOutput;
  hash: Hash;
  bytes: number;
  rows: number;
  firstLine: number;
  lastLine: number;
  firstRecord: number;
  lastRecord: number;
}

export class Splitter {
  private readonly options: SplitterOptions;
  private readonly keep: (status: number, recordNo: number) => boolean;
  private readonly buffer: Buffer;
  private used = 0;
  private header: Buffer | null = null;
  private part: OpenPart | null = null;
  private parts = 0;
  private readonly idText = Buffer.alloc(ID_LENGTH);
  /** `line,id` lines of the open part, flushed to its ids file when full. */
  private readonly idLines: Buffer;
  private idUsed = 0;
  /** Rows written to parts so far. */
  rows = 0;
  private readonly maxRows: number;

  constructor(options: SplitterOptions) {
    this.options = options;
    this.keep = options.keep ?? ((status) => status === ROW_VALID);
    this.maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
    this.buffer = Buffer.allocUnsafe(options.bufferBytes ?? 1 << 20);
    this.idLines = Buffer.allocUnsafe(options.ids === null ? 0 : 256 * 1024);
    if ((options.layout.append || options.layout.fillColumn >= 0) && options.ids === null) {
      throw new Error('Splitter: the layout assigns flowInvocationIds but no id source was given');
    }
  }

  async *split(batches: AsyncIterable<CheckedBatch>): AsyncGenerator<Part> {
    try {
      for await (const checked of batches) {
        const b = checked.records;
        const { layout, ids } = this.options;
        if (ids !== null) ids.prepare(checked.recordNo, b.count);
        for (let i = 0; i < b.count; i++) {
          const status = checked.status[i] as number;
          if (status === ROW_HEADER) {
            this.header = this.headerBytes(b, i, layout);
            continue;
          }
          const recordNo = checked.recordNo[i] as number;
          if (!this.keep(status, recordNo)) continue;
          if (((b.flags[i] as number) & RECORD_TOO_LARGE) !== 0) {
            throw new Error(`Splitter: record ${recordNo} is too large but was kept`);
          }
          const end = contentEnd(b, i, layout);
          const size = outputRowBytes(b, i, layout);
          const header = this.header;
          if (header === null) throw new Error('Splitter: a data row came before the header');
          if (header.length + size > this.options.maxPartBytes) {
            throw new Error(
              `Splitter: record ${recordNo} cannot fit in a part; validation should have rejected it`,
            );
          }
          if (
            this.part !== null &&
            (this.part.bytes + size > this.options.maxPartBytes || this.part.rows >= this.maxRows)
          ) {
            yield await this.closePart();
          }
          this.part ??= await this.openPart(header, b.line[i] as number, recordNo);
          const part = this.part;
          // The common case stays synchronous: no promise per row.
          if (this.used + size > this.buffer.length) await this.flush();
          let idAt = -1;
          if (size <= this.buffer.length) {
            idAt = this.composeRow(b, i, end, layout, this.buffer, this.used);
            this.used += size;
          } else {
            idAt = await this.writeLargeRow(b, i, layout, { end, size });
          }
          part.bytes += size;
          part.rows++;
          part.lastLine = b.endLine[i] as number;
          part.lastRecord = recordNo;
          this.rows++;
          if (ids !== null) {
            if (this.idUsed + MAX_ID_LINE > this.idLines.length) await this.flushIds();
            if (!this.recordId(b, i, layout, idAt)) await this.writeLongId(b, i, layout);
          }
        }
      }
      if (this.part !== null) yield await this.closePart();
    } finally {
      // Reached with a part open only on an error or when the consumer stopped early.
      await this.part?.output.discard();
      this.part = null;
    }
  }

  private headerBytes(b: RecordBatch, i: number, layout: RowLayout): Buffer {
    const end = contentEnd(b, i, layout);
    const out = Buffer.allocUnsafe(outputHeaderBytes(b, i, layout));
    let o = copyRecord(b, i, b.start[i] as number, end, out, 0);
    if (layout.append) o += out.write(`,${INVOCATION_ID_HEADER}`, o, 'latin1');
    out[o] = LF;
    return out;
  }

  /** A row longer than the write buffer (up to the part budget) is written on its own. */
  private async writeLargeRow(
    b: RecordBatch,
    i: number,
    layout: RowLayout,
    { end, size }: { end: number; size: number },
  ): Promise<number> {
    const own = Buffer.allocUnsafe(size);
    const idAt = this.composeRow(b, i, end, layout, own, 0);
    if (idAt >= 0) own.copy(this.idText, 0, idAt, idAt + ID_LENGTH);
    const part = this.part as OpenPart;
    part.hash.update(own);
    await part.output.write(own);
    return idAt >= 0 ? -2 : -1;
  }

  /**
   * Writes data record i's output bytes (LF included) at `out[at]`. Returns where the
   * assigned id was written in `out`, or -1 when the row kept its own id.
   */
  // eslint-disable-next-line max-params -- hot loop: per row: writes the row, and its id, into the part buffer in place
  private composeRow(
    b: RecordBatch,
    i: number,
    end: number,
    layout: RowLayout,
    out: Buffer,
    at: number,
  ): number {
    const start = b.start[i] as number;
    const ids = this.options.ids;
    let o = at;
    let idAt = -1;
    if (layout.append && ids !== null) {
      o += copyRecord(b, i, start, end, out, o);
      out[o++] = COMMA;
      ids.write(i, out, o);
      idAt = o;
      o += ID_LENGTH;
    } else if (layout.fillColumn >= 0 && ids !== null && b.isEmpty(i, layout.fillColumn)) {
      const f = (b.fieldFirst[i] as number) + layout.fillColumn;
      o += copyRecord(b, i, start, b.rawStart(f), out, o);
      ids.write(i, out, o);
      idAt = o;
      o += ID_LENGTH;
      o += copyRecord(b, i, b.rawEnd(f), end, out, o);
    } else {
      o += copyRecord(b, i, start, end, out, o);
    }
    out[o] = LF;
    return idAt;
  }

  /**
   * Notes `line,flowInvocationId` of the row just written, for invocations.csv; the id
   * is copied from where composeRow wrote it (-2: from idText). Returns false when the
   * row's own id is too long for the buffer.
   */
  private recordId(b: RecordBatch, i: number, layout: RowLayout, idAt: number): boolean {
    const lines = this.idLines;
    let o = writeDecimal(lines, this.idUsed, b.line[i] as number);
    lines[o++] = COMMA;
    if (idAt >= 0) {
      o += copyBytes(this.buffer, idAt, idAt + ID_LENGTH, lines, o);
    } else if (idAt === -2) {
      o += copyBytes(this.idText, 0, ID_LENGTH, lines, o);
    } else {
      const own = ownId(b, i, layout);
      if (Buffer.byteLength(own) > MAX_ID_LINE - 24) return false;
      o += lines.write(own, o, 'utf8');
    }
    lines[o++] = LF;
    this.idUsed = o;
    return true;
  }

  /** An id of the user's own longer than the id buffer: written on its own. */
  private async writeLongId(b: RecordBatch, i: number, layout: RowLayout): Promise<void> {
    await this.flushIds();
    await (this.part as OpenPart).output.writeIds(
      Buffer.from(`${b.line[i] as number},${ownId(b, i, layout)}\n`),
    );
  }

  /** Appends bytes [s, e) of `src` to the part, through the write buffer. */
  private async put(src: Buffer, s: number, e: number): Promise<void> {
    const n = e - s;
    if (this.used + n > this.buffer.length) await this.flush();
    if (n > this.buffer.length) {
      const part = this.part as OpenPart;
      part.hash.update(src.subarray(s, e));
      await part.output.write(src.subarray(s, e));
      return;
    }
    this.used += src.copy(this.buffer, this.used, s, e);
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const part = this.part as OpenPart;
    const bytes = this.buffer.subarray(0, this.used);
    part.hash.update(bytes);
    await part.output.write(bytes);
    this.used = 0;
  }

  private async flushIds(): Promise<void> {
    if (this.idUsed === 0) return;
    await (this.part as OpenPart).output.writeIds(this.idLines.subarray(0, this.idUsed));
    this.idUsed = 0;
  }

  private async openPart(
    header: Buffer,
    firstLine: number,
    firstRecord: number,
  ): Promise<OpenPart> {
    const number = ++this.parts;
    const output = await this.options.sink.create(number);
    this.part = {
      number,
      output,
      hash: createHash('sha256'),
      bytes: header.length,
      rows: 0,
      firstLine,
      lastLine: firstLine,
      firstRecord,
      lastRecord: firstRecord,
    };
    await this.put(header, 0, header.length);
    return this.part;
  }

  private async closePart(): Promise<Part> {
    const part = this.part as OpenPart;
    await this.flush();
    await this.flushIds();
    const { path, idsPath, idsSha256 } = await part.output.close();
    this.part = null;
    return {
      number: part.number,
      path,
      bytes: part.bytes,
      rows: part.rows,
      sha256: part.hash.digest('hex'),
      firstLine: part.firstLine,
      lastLine: part.lastLine,
      firstRecord: part.firstRecord,
      lastRecord: part.lastRecord,
      idsPath,
      idsSha256,
    };
  }
}

/** The row's own flowInvocationId, quoted for CSV when needed. */
function ownId(b: RecordBatch, i: number, layout: RowLayout): string {
  const value = b.fieldText(i, layout.fillColumn);
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Copies bytes [s, e) of src to dst[at]; a plain loop beats Buffer.copy for short runs. */
// eslint-disable-next-line max-params -- hot loop: per field: byte copy without a subarray per call
function copyBytes(src: Uint8Array, s: number, e: number, dst: Uint8Array, at: number): number {
  const n = e - s;
  if (n > 48) {
    dst.set(src.subarray(s, e), at);
  } else {
    for (let k = 0; k < n; k++) dst[at + k] = src[s + k] as number;
  }
  return n;
}

/** Writes a non-negative integer's decimal digits at buf[at]; returns the end offset. */
function writeDecimal(buf: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let n = value;
  for (let k = at + digits - 1; k >= at; k--) {
    const q = Math.floor(n / 10);
    buf[k] = 0x30 + (n - q * 10);
    n = q;
  }
  return at + digits;
}
