/**
 * The explaining pass: reads the input again and yields each invalid row with its
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

export async function* explainRows(
  validator: Validator,
  source: AsyncIterable<ReadBatch>,
  result: ValidationResult,
): AsyncGenerator<RejectedRowReport> {
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
      if (result.duplicateIds.has(record))
        errors.push(`duplicate-invocation-id (${INVOCATION_ID_COLUMN})`);
      const fields = ((b.flags[i] as number) & RECORD_TOO_LARGE) !== 0 ? null : b.fields(i);
      yield {
        line: b.line[i] as number,
        fields:
          fields === null || fields.length <= keep
            ? fields
            : fields.slice(0, Math.max(keep, fields.length - (header.length - keep))),
        errors,
      };
    }
  }
}
