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
import { TextOut } from '../files/text-out.js';

export const LINE_COLUMN = '_line';
export const ERRORS_COLUMN = '_errors';

export interface RejectedRow {
  line: number;
  /** Parsed values; null when the row was too large to keep, or when `text` holds them. */
  fields: string[] | null;
  /** The cells, already as written here: unquoted, nothing to neutralise, no column missing. */
  text?: string;
  /** Each error as `code (column)`. */
  errors: string[];
}

/** RFC 4180 quoting, only where needed. */
export function csvField(value: string): string {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    // " , LF CR
    if (c === 0x22 || c === 0x2c || c === 0x0a || c === 0x0d)
      return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

export class RejectedCsvWriter {
  private readonly width: number;
  private readonly text: TextOut;
  rows = 0;

  constructor(
    out: WriteStream,
    header: string[],
    /** For a multi-file input `_line` is `file:line` (model/line-map.ts). */
    private readonly lines?: LineMap,
  ) {
    this.width = header.length;
    this.text = new TextOut(out);
    this.text.add(
      `${[...header.map(neutralise), LINE_COLUMN, ERRORS_COLUMN].map(csvField).join(',')}\n`,
    );
  }

  async write(row: RejectedRow): Promise<void> {
    this.add(row);
    await this.flush();
  }

  /**
   * Adds a row as text, at once: the row dies young, and a batch's rows go out in one
   * write (`flush`) — a write, or a promise, per row costs more than the row.
   */
  add(row: RejectedRow): void {
    this.text.add(this.line(row));
    this.rows++;
  }

  /** Writes the rows added since the last flush, waiting while the file catches up. */
  flush(): Promise<void> {
    return this.text.flush();
  }

  private line(row: RejectedRow): string {
    // Short rows are padded so _line and _errors stay in their columns; long rows keep
    // every value (nothing is dropped) and say so in _errors. A row too large to keep is
    // blank but for them.
    const fields = row.fields;
    let text = '';
    if (row.text !== undefined) text = `${row.text},`;
    else {
      const n = Math.max(this.width, fields?.length ?? 0);
      for (let k = 0; k < n; k++) text += `${csvField(neutralise(fields?.[k] ?? ''))},`;
    }
    const at =
      this.lines?.multiFile === true ? neutralise(this.lines.cell(row.line)) : String(row.line);
    return `${text}${csvField(at)},${csvField(row.errors.join('; '))}\n`;
  }

  close(): Promise<void> {
    return this.text.close();
  }
}
