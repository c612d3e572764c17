/**
 * How a record is laid out in a part, and exactly how many bytes it takes there: the
 * splitter writes rows this way and validation sizes them the same way, so a row is
 * refused as too large if and only if the part that would hold it alone is over budget.
 */
import { FIELD_NEUTRALISED, RECORD_NEUTRALISED, type RecordBatch } from './record-batch.js';

export const INVOCATION_ID_HEADER = 'flowInvocationId';
/** Length of an assigned flowInvocationId (a UUID). */
export const ID_LENGTH = 36;

/**
 * Bytes a raw record may have beyond the part budget and still be read whole: what a part
 * leaves out of it — rejected.csv's `_line`/`_errors` columns, neutralising apostrophes,
 * the quotes of an empty `""` id — is not part of its size there. A longer record is not
 * kept in memory and is refused as too large (decisions.md, "Parts are sized exactly").
 */
export const RECORD_SLACK_BYTES = 1 << 20;

/** The reader's retention limit for a part budget (see RECORD_SLACK_BYTES). */
export function retentionLimit(maxPartBytes: number): number {
  return maxPartBytes + RECORD_SLACK_BYTES;
}

/** How records are rewritten on their way into parts. */
export interface RowLayout {
  /** Drop the fields from this 0-based index on (trailing _line/_errors); null keeps all. */
  cutAt: number | null;
  /** Existing flowInvocationId column whose empty cells get an assigned id; -1 for none. */
  fillColumn: number;
  /** Append a flowInvocationId column with an assigned id (the input has none). */
  append: boolean;
}

export const COPY_LAYOUT: RowLayout = { cutAt: null, fillColumn: -1, append: false };

/**
 * The layout a send uses for a header of `width` columns: trailing annotation columns
 * (from `annotationStart` on) dropped, empty flowInvocationId cells filled, or a
 * flowInvocationId column appended. Validation sizes rows with the same layout, so a row
 * is refused as too large exactly when its part would be.
 */
export function sendLayout(
  plan: { annotationStart: number; invocationId: number } | null,
  width: number,
): RowLayout {
  const cutAt = plan !== null && plan.annotationStart < width ? plan.annotationStart : null;
  const idColumn = plan?.invocationId ?? -1;
  return { cutAt, fillColumn: idColumn, append: idColumn < 0 };
}

/** Where record i's output content ends in `b.buf`: before any cut columns. */
export function contentEnd(b: RecordBatch, i: number, layout: RowLayout): number {
  const start = b.start[i] as number;
  const end = start + b.byteLength(i);
  const cut = layout.cutAt;
  if (cut === null || cut >= (b.fieldCount[i] as number) || cut === 0) return end;
  return b.rawStart((b.fieldFirst[i] as number) + cut) - 1;
}

/** Neutralising apostrophes of record i in [s, e) that parts leave out. */
function apostrophesIn(b: RecordBatch, i: number, s: number, e: number): number {
  if (((b.flags[i] as number) & RECORD_NEUTRALISED) === 0) return 0;
  let n = 0;
  const first = b.fieldFirst[i] as number;
  const last = first + (b.fieldCount[i] as number);
  for (let k = first; k < last; k++) {
    if (((b.fFlags[k] as number) & FIELD_NEUTRALISED) === 0) continue;
    const at = (b.fStart[k] as number) - 1;
    if (at >= s && at < e) n++;
  }
  return n;
}

/** Exact bytes data record i takes in a part under `layout`, LF included. */
export function outputRowBytes(b: RecordBatch, i: number, layout: RowLayout): number {
  const start = b.start[i] as number;
  const end = contentEnd(b, i, layout);
  let size = end - start + 1 - apostrophesIn(b, i, start, end);
  if (layout.append) size += 1 + ID_LENGTH;
  else if (layout.fillColumn >= 0 && b.isEmpty(i, layout.fillColumn)) {
    const f = (b.fieldFirst[i] as number) + layout.fillColumn;
    size += ID_LENGTH - (b.rawEnd(f) - b.rawStart(f));
  }
  return size;
}

/** Exact bytes the header record i takes at the top of every part, LF included. */
export function outputHeaderBytes(b: RecordBatch, i: number, layout: RowLayout): number {
  const start = b.start[i] as number;
  const end = contentEnd(b, i, layout);
  return (
    end -
    start +
    1 -
    apostrophesIn(b, i, start, end) +
    (layout.append ? 1 + INVOCATION_ID_HEADER.length : 0)
  );
}
