/**
 * skipped.csv (SPEC 8): the rows a campaign run did not send because their key was sent
 * already — the original columns in their order, then `_line` and `_last_sent` (when the
 * key was last sent, or which earlier row of the same file has it). Written from the
 * record's bytes, a buffer at a time: a daily export can skip most of its rows, and this
 * file must cost little more than copying them. Cells a spreadsheet would run as a formula
 * are neutralised as in rejected.csv (model/neutralise.ts), so the file reads back exactly.
 */
import type { WriteStream } from 'node:fs';
import type { LineMap } from '../model/line-map.js';
import { neutralise } from '../model/neutralise.js';
import { FIELD_ESCAPED, type RecordBatch } from '../model/record-batch.js';
import { csvField, LINE_COLUMN } from './rejected-csv.js';

export const LAST_SENT_COLUMN = '_last_sent';
const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
/** First bytes that make a cell a formula (or an apostrophe, escaped for the round trip). */
const TRIGGER = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, CR, 0x27]);

export class SkippedCsvWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private readonly texts = new Map<string, string>();
  private used = 0;
  rows = 0;

  private readonly width: number;

  constructor(
    private readonly out: WriteStream,
    header: readonly string[],
    private readonly lines?: LineMap,
  ) {
    this.width = header.length;
    this.text(
      `${[...header.map(neutralise), LINE_COLUMN, LAST_SENT_COLUMN].map(csvField).join(',')}\n`,
    );
  }

  /** Appends record i of the batch; a promise only when the buffer had to be written out. */
  add(b: RecordBatch, i: number, lastSent: string): Promise<void> | undefined {
    const first = b.fieldFirst[i] as number;
    const count = b.fieldCount[i] as number;
    for (let f = 0; f < this.width; f++) {
      if (f > 0) this.byte(COMMA);
      if (f < count) this.field(b, i, f, first + f);
    }
    const line = b.line[i] as number;
    this.byte(COMMA);
    if (this.lines?.multiFile === true) this.text(csvField(neutralise(this.lines.cell(line))));
    else this.decimal(line);
    this.byte(COMMA);
    this.text(this.lastSent(lastSent));
    this.rows++;
    return this.used > this.buf.length / 2 ? this.drain() : undefined;
  }

  /** One cell: its bytes as they are when nothing needs quoting or neutralising. */
  private field(b: RecordBatch, i: number, f: number, k: number): void {
    const s = b.fStart[k] as number;
    const e = b.fEnd[k] as number;
    if (s === e) return;
    const escaped = ((b.fFlags[k] as number) & FIELD_ESCAPED) !== 0;
    let plain = !escaped && !TRIGGER.has(b.buf[s] as number);
    for (let p = s; plain && p < e; p++) {
      const c = b.buf[p] as number;
      if (c === COMMA || c === QUOTE || c === LF || c === CR) plain = false;
    }
    if (!plain) {
      this.text(csvField(neutralise(b.fieldText(i, f))));
      return;
    }
    this.room(e - s);
    for (let p = s; p < e; p++) this.buf[this.used++] = b.buf[p] as number;
  }

  /** `value` as a cell and the line's end, kept: a run's skipped rows share few values. */
  private lastSent(value: string): string {
    let text = this.texts.get(value);
    if (text === undefined) {
      text = `${csvField(value)}\n`;
      if (this.texts.size < 1024) this.texts.set(value, text);
    }
    return text;
  }

  /** A line number's digits, written in place (a string per row would pile up). */
  private decimal(n: number): void {
    this.room(16);
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let v = n;
    for (let k = this.used + digits - 1; k >= this.used; k--) {
      const q = Math.floor(v / 10);
      this.buf[k] = 0x30 + (v - q * 10);
      v = q;
    }
    this.used += digits;
  }

  private byte(c: number): void {
    this.room(1);
    this.buf[this.used++] = c;
  }

  private text(t: string): void {
    this.room(Buffer.byteLength(t));
    this.used += this.buf.write(t, this.used);
  }

  private room(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
  }

  /** Writes the buffer out and waits until it is written, so the same buffer is reused. */
  private async drain(): Promise<void> {
    const bytes = this.buf.subarray(0, this.used);
    await new Promise<void>((resolve, reject) =>
      this.out.write(bytes, (error?: Error | null) => (error ? reject(error) : resolve())),
    );
    this.used = 0;
  }

  async close(): Promise<void> {
    if (this.used > 0) await this.drain();
    await new Promise<void>((resolve, reject) => {
      this.out.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  }
}
