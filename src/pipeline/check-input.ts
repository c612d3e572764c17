/**
 * The first pass shared by validate and send: read the input once, validate every row,
 * settle the whole-file checks, and write rejected.csv by reading the invalid rows again.
 */
import type { IssueLog } from '../model/issue-log.js';
import type { ProgressSink } from '../model/progress.js';
import type { InputSource } from '../read/input.js';
import { RecordReader, type ReadSummary } from '../read/record-reader.js';
import { RejectedCsvWriter } from '../report/rejected-csv.js';
import type { ReportDir } from '../report/report-dir.js';
import { Validator, type ValidationResult, type ValidatorOptions } from '../validate/validator.js';

export interface CheckedInput {
  result: ValidationResult;
  summary: ReadSummary;
  validator: Validator;
}

/** Reads and validates the whole input. */
export async function checkInput(
  input: InputSource,
  log: IssueLog,
  options: ValidatorOptions,
  progress: ProgressSink,
  signal?: AbortSignal,
): Promise<CheckedInput> {
  progress({ type: 'phase', phase: 'validate' });
  const validator = new Validator(log, options);
  const reader = new RecordReader({
    maxRecordBytes: options.maxPartBytes,
    onBytes: reading('validate', input, progress),
  });
  try {
    const batches = validator.check(reader.batches(input.read()));
    while (!(await batches.next()).done) signal?.throwIfAborted();
    const summary = reader.summary();
    const result = await validator.finish(summary);
    return { result, summary, validator };
  } catch (error) {
    await validator.abort();
    throw error;
  }
}

/** Writes rejected.csv when rows are invalid; returns its name, or null. */
export async function writeRejected(
  checked: CheckedInput,
  input: InputSource,
  dir: ReportDir,
  maxPartBytes: number,
  progress: ProgressSink,
): Promise<string | null> {
  const { result, validator } = checked;
  if (result.rows.invalid === 0 || result.header === null || result.header.length === 0)
    return null;
  progress({ type: 'phase', phase: 'explain' });
  const keep = result.plan?.annotationStart ?? result.header.length;
  const writer = new RejectedCsvWriter(dir.stream('rejected.csv'), result.header.slice(0, keep));
  const reader = new RecordReader({
    maxRecordBytes: maxPartBytes,
    onBytes: reading('explain', input, progress),
  });
  try {
    for await (const row of validator.explain(reader.batches(input.read()), result))
      await writer.write(row);
  } finally {
    await writer.close();
  }
  return 'rejected.csv';
}

/** Turns chunk sizes into read-progress events. */
export function reading(
  phase: 'validate' | 'explain' | 'split',
  input: InputSource,
  progress: ProgressSink,
): (n: number) => void {
  let bytes = 0;
  return (n) => {
    bytes += n;
    progress({ type: 'read', phase, bytes, totalBytes: input.size });
  };
}
