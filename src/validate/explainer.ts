/**
 * The explaining pass: reads the input again and hands on each invalid row with its
 * errors, for rejected.csv. The first pass only counts and remembers which rows are
 * invalid (a bit each); the row checks are pure functions of the row, so they are run
 * again here, through the same Validator, rather than remembered for every invalid row —
 * into an ExplainSink, which collects them instead of logging them.
 */
import { RECORD_BLANK, RECORD_TOO_LARGE } from '../model/record-batch.js';
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
      const fields = ((b.flags[i] as number) & RECORD_TOO_LARGE) !== 0 ? null : b.fields(i);
      rows++;
      if (rows % STEP_ROWS === 0) yield STEP_ROWS;
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
