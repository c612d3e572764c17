/**
 * The explaining pass: reads the input again and hands on each invalid row with its
 * errors, for rejected.csv. The first pass only counts and remembers which rows are
 * invalid (a bit each); the row checks are pure functions of the row, so they are run
 * again here, through the same Validator, rather than remembered for every invalid row —
 * into an ExplainSink, which collects them instead of logging them.
 */
import {
  RECORD_BLANK,
  RECORD_MALFORMED,
  RECORD_NEUTRALISED,
  RECORD_TOO_LARGE,
  type RecordBatch,
} from '../model/record-batch.js';
import type { ReadBatch } from '../model/read-batch.js';
import { INVOCATION_ID_COLUMN } from './columns.js';
import { ExplainSink } from './issue-sink.js';
import type { RejectedRowReport, ValidationResult, Validator } from './validator.js';

/** rejected.csv's word for a repeated id, made once. */
const DUPLICATE_ID = `duplicate-invocation-id (${INVOCATION_ID_COLUMN})`;

/** Rows explained between two chances for the caller to write them out. */
const STEP_ROWS = 1024;

/**
 * Hands each invalid row to `onRow` as it is explained, and yields every STEP_ROWS rows
 * and at the end of each batch (the rows explained since), where the caller writes them
 * out and may stop. A generator step per row cost more than the row: rejected.csv of two
 * million rows took three times as long as now.
 */
export async function* explainRows(
  validator: Validator,
  source: AsyncIterable<ReadBatch>,
  result: ValidationResult,
  onRow: (row: RejectedRowReport) => void,
): AsyncGenerator<number> {
  const header = result.header;
  if (header === null || header.length === 0) return;
  // Columns kept in rejected.csv: an input that was itself a rejected.csv loses its
  // _line/_errors columns, which are written afresh.
  const keep = result.plan?.annotationStart ?? header.length;
  let record = 0;
  let headerSeen = false;
  let firstRecord = true;
  let fresh = true;
  for await (const { records: b, encodingProblems } of source) {
    validator.queueEncoding(encodingProblems, fresh);
    fresh = false;
    // A generator step per batch, not per row: a step costs more than a row.
    let rows = 0;
    for (let i = 0; i < b.count; i++) {
      if (((b.flags[i] as number) & RECORD_BLANK) !== 0) continue;
      // A spreadsheet's sep= first line, then the header: passed over like valid rows.
      const separator = firstRecord && b.separatorLine(i) !== null;
      firstRecord = false;
      if (separator || !headerSeen) {
        if (!separator) headerSeen = true;
        validator.skipRow(b, i);
        continue;
      }
      record++;
      if (!result.invalid.has(record)) {
        validator.skipRow(b, i);
        continue;
      }
      const sink = new ExplainSink();
      validator.rowIssues(b, i, record, sink);
      const errors = sink.errors;
      if (result.duplicateIds.has(record)) errors.push(DUPLICATE_ID);
      rows++;
      if (rows % STEP_ROWS === 0) yield STEP_ROWS;
      const text = keep === header.length ? plainRowText(b, i, keep) : null;
      if (text !== null) {
        onRow({ line: b.line[i] as number, fields: null, text, errors });
        continue;
      }
      const fields = ((b.flags[i] as number) & RECORD_TOO_LARGE) !== 0 ? null : b.fields(i);
      onRow({
        line: b.line[i] as number,
        fields:
          fields === null || fields.length <= keep
            ? fields
            : fields.slice(0, Math.max(keep, fields.length - (header.length - keep))),
        errors,
      });
    }
    if (rows % STEP_ROWS > 0) yield rows % STEP_ROWS;
  }
}

/** Record flags that rule the plain path out: the bytes are not the row's cells as written. */
const NOT_PLAIN = RECORD_TOO_LARGE | RECORD_MALFORMED | RECORD_NEUTRALISED;
/** Bytes after which a cell is not written as it came: quoted (" , LF CR) or neutralised. */
const PLAIN_STOP = new Uint8Array(256);
for (const c of [0x22, 0x2c, 0x0a, 0x0d]) PLAIN_STOP[c] = 1;
/** First bytes of a cell rejected.csv neutralises (= + - @ tab CR ') — the rule of model/neutralise.ts. */
const TRIGGER_FIRST = new Uint8Array(256);
for (const c of [0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d, 0x27]) TRIGGER_FIRST[c] = 1;

/**
 * Record i's cells as rejected.csv writes them, when that is its bytes as read: `width`
 * unquoted cells, none needing quotes or neutralising, the record well formed. Such a row
 * is handed on as one decoded text rather than a string per cell, each quoted and
 * neutralised (rejected.csv of two million rows sharing one id spent most of its time
 * there). Null: the row is written from its cells.
 */
export function plainRowText(b: RecordBatch, i: number, width: number): string | null {
  if (((b.flags[i] as number) & NOT_PLAIN) !== 0 || b.fieldCount[i] !== width) return null;
  const first = b.fieldFirst[i] as number;
  const buf = b.buf;
  for (let k = first; k < first + width; k++) {
    if (b.fFlags[k] !== 0) return null;
    const s = b.fStart[k] as number;
    const e = b.fEnd[k] as number;
    if (s < e && TRIGGER_FIRST[buf[s] as number] === 1) return null;
    for (let p = s; p < e; p++) if (PLAIN_STOP[buf[p] as number] === 1) return null;
  }
  const start = b.start[i] as number;
  const end = start + b.byteLength(i);
  // The cells are the record's bytes only when nothing else is between them.
  if (b.fStart[first] !== start || b.fEnd[first + width - 1] !== end) return null;
  return buf.toString('utf8', start, end);
}
