/**
 * A look's cards per row, read back in the run's order. Small looks (one query per id, a
 * sample) keep them in typed arrays; a template's look at a run of millions writes one
 * 12-byte record per row that has cards into a sorter keyed by the row's position and
 * reads them back beside invocations.csv, so its memory does not grow with the run
 * (a typed array per row was 5 bytes a row: 50 MB at 10 M rows).
 */
import { makeOwnedTempDir, removeOwnedTempDir } from '../files/private-files.js';
import { ExternalSorter, MergedCursor } from '../files/sorted-runs.js';

/** One row's cards as counted: how many, how many not cancelled, the statuses' bits. */
export interface RowCards {
  count: number;
  open: number;
  bits: number;
}

/** A row with no card. */
export const NO_CARDS: Readonly<RowCards> = Object.freeze({ count: 0, open: 0, bits: 0 });

/**
 * Rows read in increasing positions: `at` answers from what is loaded, or undefined when
 * the caller must `await fill()` first (no promise per row).
 */
export interface RowReader {
  at(position: number): Readonly<RowCards> | undefined;
  fill(): Promise<void>;
  close(): Promise<void>;
}

/** The row at `position`, loading more when needed. */
export async function rowAt(reader: RowReader, position: number): Promise<Readonly<RowCards>> {
  let row = reader.at(position);
  while (row === undefined) {
    await reader.fill();
    row = reader.at(position);
  }
  return row;
}

/** Typed arrays' rows: everything is loaded. */
export class ArrayRows implements RowReader {
  private readonly row: RowCards = { count: 0, open: 0, bits: 0 };

  constructor(
    private readonly arrays: { counts: Uint16Array; open: Uint16Array; statuses: Uint8Array },
  ) {}

  at(position: number): Readonly<RowCards> {
    const { counts, open, statuses } = this.arrays;
    this.row.count = counts[position] ?? 0;
    this.row.open = open[position] ?? 0;
    this.row.bits = statuses[position] ?? 0;
    return this.row;
  }

  fill(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** position (u32 BE) | count (u16) | open (u16) | bits | pad */
const WIDTH = 12;
const KEY = 4;
const CHUNK = 1 << 17;
const MAX_U16 = 65535;

/** Rows with cards on disk, in any order as written, read back in the run's order. */
export class SpilledRows {
  private readonly sorter: ExternalSorter;
  private readonly record = Buffer.alloc(WIDTH);
  private reading = false;

  private constructor(private readonly dir: string) {
    this.sorter = new ExternalSorter(dir, WIDTH, KEY, CHUNK);
  }

  static async open(): Promise<SpilledRows> {
    return new SpilledRows(await makeOwnedTempDir('rows'));
  }

  /** Keeps a row's cards; a promise only when the sorter writes a chunk. */
  put(position: number, row: Readonly<RowCards>): void | Promise<void> {
    if (this.reading) throw new Error('SpilledRows: put after reading began');
    const r = this.record;
    r.writeUInt32BE(position, 0);
    r.writeUInt16BE(Math.min(row.count, MAX_U16), 4);
    r.writeUInt16BE(Math.min(row.open, MAX_U16), 6);
    r[8] = row.bits;
    if (!this.sorter.roomy) return this.sorter.add(r, 0);
    this.sorter.push(r, 0);
  }

  /** The rows in the run's order (once: the sorter's runs are merged as they are read). */
  async reader(): Promise<RowReader> {
    if (this.reading) throw new Error('SpilledRows: read twice');
    this.reading = true;
    return new CursorRows(new MergedCursor(await this.sorter.sources(), WIDTH, KEY));
  }

  async close(): Promise<void> {
    await this.sorter.dispose();
    await removeOwnedTempDir(this.dir);
  }
}

class CursorRows implements RowReader {
  private readonly row: RowCards = { count: 0, open: 0, bits: 0 };
  private done = false;

  constructor(private readonly cursor: MergedCursor) {}

  at(position: number): Readonly<RowCards> | undefined {
    const c = this.cursor;
    while (c.pos < c.end) {
      const p = c.buf.readUInt32BE(c.pos);
      if (p < position) {
        c.pos += WIDTH;
        continue;
      }
      if (p > position) return NO_CARDS;
      this.row.count = c.buf.readUInt16BE(c.pos + 4);
      this.row.open = c.buf.readUInt16BE(c.pos + 6);
      this.row.bits = c.buf[c.pos + 8] as number;
      return this.row;
    }
    return this.done ? NO_CARDS : undefined;
  }

  async fill(): Promise<void> {
    if (!(await this.cursor.fill())) this.done = true;
  }

  close(): Promise<void> {
    return this.cursor.close();
  }
}
