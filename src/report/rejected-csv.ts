/**
 * rejected.csv: the invalid rows with the original columns in their order, plus `_line`
 * and `_errors`, so the file can be fixed and sent again as it is (atomic-bulk ignores
 * those two trailing columns; see docs/decisions.md). Rows are re-quoted from their
 * parsed values, so a row with broken quoting cannot corrupt the rows after it.
 *
 * Cells that a spreadsheet would run as a formula are neutralised as OWASP recommends:
 * a leading apostrophe. So that the file still round-trips exactly, every cell that
 * begins with an apostrophe gets one too, and atomic-bulk removes one leading apostrophe
 * from each cell when it reads a rejected.csv back (read/neutralise.ts).
 */
import type { LineMap } from '../model/line-map.js';
import { neutralise } from '../model/neutralise.js';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';

export const LINE_COLUMN = '_line';
export const ERRORS_COLUMN = '_errors';

export interface RejectedRow {
  line: number;
  /** Parsed values; null when the row was too large to keep. */
  fields: string[] | null;
  /** Each error as `code (column)`. */
  errors: string[];
}

/** RFC 4180 quoting, only where needed. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export class RejectedCsvWriter {
  private readonly width: number;
  rows = 0;

  constructor(
    private readonly out: WriteStream,
    header: string[],
    /** For a multi-file input `_line` is `file:line` (model/line-map.ts). */
    private readonly lines?: LineMap,
  ) {
    this.width = header.length;
    out.write(
      `${[...header.map(neutralise), LINE_COLUMN, ERRORS_COLUMN].map(csvField).join(',')}\n`,
    );
  }

  async write(row: RejectedRow): Promise<void> {
    // Short rows are padded so _line and _errors stay in their columns; long rows keep
    // every value (nothing is dropped) and say so in _errors.
    const fields = row.fields ?? new Array<string>(this.width).fill('');
    const padded =
      fields.length < this.width
        ? [...fields, ...new Array<string>(this.width - fields.length).fill('')]
        : fields;
    const at =
      this.lines?.multiFile === true ? neutralise(this.lines.cell(row.line)) : String(row.line);
    const line = `${[...padded.map(neutralise), at, row.errors.join('; ')].map(csvField).join(',')}\n`;
    this.rows++;
    if (!this.out.write(line)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.out.end((error?: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }
}
