/**
 * The validation stage. It consumes record batches from the reader and yields them again
 * with a status per record (header, blank, valid, invalid) and the data-record number,
 * reporting every issue to the log as it goes. Checks that need the whole file
 * (duplicate invocation ids and targets) are settled by `finish()`, which returns the
 * final set of invalid records.
 *
 * With no flow config it runs the structural checks only (encoding, quoting, field
 * count, record size, blank lines), which is what `split` needs.
 *
 * Its parts, one job each: the header (header-intake.ts), a row's checks (row-issues.ts,
 * row-checker.ts), encoding faults (encoding-queue.ts), repeated keys (duplicate-keys.ts),
 * and where issues go (issue-sink.ts) — the log here, rejected.csv's errors in explainer.ts.
 */
import { RECORD_BLANK, type RecordBatch } from '../model/record-batch.js';
import {
  CheckedArrays,
  ROW_BLANK,
  ROW_HEADER,
  ROW_INVALID,
  ROW_VALID,
  type CheckedBatch,
} from '../model/checked-batch.js';
import type { IssueLog } from '../model/issue-log.js';
import { RecordSet } from '../model/record-set.js';
import type { EncodingProblem, ReadBatch, ReadSummary } from '../model/read-batch.js';
import { DuplicateKeys } from './duplicate-keys.js';
import { EncodingQueue } from './encoding-queue.js';
import { reportSeparatorLine, takeHeader } from './header-intake.js';
import { columnRef, LogSink, type IssueSink } from './issue-sink.js';
import { RowIssues } from './row-issues.js';
import {
  describeLines,
  type HeaderState,
  type ValidationResult,
  type ValidatorOptions,
} from './types.js';

export type { RejectedRowReport, RowCounts, ValidationResult, ValidatorOptions } from './types.js';
export { ADDED_ID_BYTES, MAX_COLUMNS } from './types.js';

export class Validator {
  private readonly sink: LogSink;
  private readonly encoding = new EncodingQueue();
  private readonly keys: DuplicateKeys;
  private head: HeaderState | null = null;
  private rows: RowIssues | null = null;
  /** Whether a non-blank record has been seen (only the first may be a `sep=` line). */
  private pastFirstRecord = false;
  private separatorLine: string | null = null;
  /** Longest row as it will be written (LF and added id included). */
  private longestRow = 0;
  private recordNo = 0;
  private blank = 0;
  private readonly invalid = new RecordSet();
  private readonly duplicateIds = new RecordSet();
  private readonly arrays = new CheckedArrays();

  constructor(
    log: IssueLog,
    private readonly options: ValidatorOptions,
  ) {
    this.sink = new LogSink(log);
    this.keys = new DuplicateKeys({
      memoryBytes: options.duplicateMemoryBytes,
      tempDir: options.tempDir,
    });
  }

  /** Checks each batch and yields it with per-record statuses. */
  async *check(source: AsyncIterable<ReadBatch>): AsyncGenerator<CheckedBatch> {
    for await (const { records, encodingProblems } of source) {
      this.encoding.push(encodingProblems);
      yield this.checkBatch(records);
    }
  }

  /** Settles the whole-file checks and returns the verdict. Call after `check` is drained. */
  async finish(summary: ReadSummary, signal?: AbortSignal): Promise<ValidationResult> {
    this.head?.guess?.refine();
    this.fileChecks(summary);
    const header = this.head?.names ?? null;
    await this.keys.settle({
      sink: this.sink,
      invalid: this.invalid,
      duplicateIds: this.duplicateIds,
      idColumn: columnRef(header, this.head?.plan?.invocationId ?? -1),
      where: (line, other) => describeLines(this.options.lines, line, other),
      signal,
    });
    const total = this.recordNo;
    const headerBytes = this.head?.bytes ?? 0;
    return {
      header,
      headerLine: this.head?.line ?? 1,
      plan: this.head?.plan ?? null,
      rows: {
        total,
        valid: total - this.invalid.size,
        invalid: this.invalid.size,
        blank: this.blank,
      },
      invalid: this.invalid,
      duplicateIds: this.duplicateIds,
      fileErrors: this.sink.fileErrors,
      headerBytes,
      smallestBudget: Math.max(headerBytes, this.head?.oversize ?? 0) + this.longestRow,
    };
  }

  /**
   * For the explaining pass (explainer.ts), which reads the input again: the encoding
   * faults of its next chunk; `fresh` on its first.
   */
  queueEncoding(problems: readonly EncodingProblem[], fresh = false): void {
    this.encoding.push(problems, fresh);
  }

  /** For the explaining pass: passes over a record that is not explained. */
  skipRow(b: RecordBatch, i: number): void {
    this.encoding.skip(b, i);
  }

  /** For the explaining pass: runs a data row's checks again, reporting to `sink`. */
  rowIssues(b: RecordBatch, i: number, record: number, sink: IssueSink): void {
    if (this.rows === null) throw new Error('rowIssues before the header was read');
    this.rows.check(b, i, record, sink);
  }

  /** Releases temporary files when the run stops early. */
  async abort(): Promise<void> {
    await this.keys.close();
  }

  private fileChecks(summary: ReadSummary): void {
    const file = { line: 1, record: 0 };
    const sink = this.sink;
    if (summary.bom) {
      sink.report('bom-stripped', file, null, () => ({
        message:
          'The file starts with a UTF-8 byte-order mark; it was removed and parts are written without it.',
        hint: 'Nothing to do. Some editors add it when saving as "CSV UTF-8".',
      }));
    }
    if (summary.foreignEncoding !== null) {
      const enc = summary.foreignEncoding;
      sink.report('encoding-error', file, null, () => ({
        message: `The file is encoded as ${enc}; atomic-bulk reads UTF-8 only.`,
        hint: 'Save it again as "CSV UTF-8" (Excel) or convert it with: iconv -f UTF-16 -t UTF-8.',
      }));
      return;
    }
    if (this.head === null) {
      sink.report('empty-file', file, null, () => ({
        message: summary.bytes === 0 ? 'The file is empty.' : 'The file holds only blank lines.',
        hint: 'Export the campaign again: a header row and one row per user.',
      }));
    } else if (this.recordNo === 0) {
      sink.report('empty-file', { line: this.head.line, record: 0 }, null, () => ({
        message: 'The file has a header but no data rows.',
        hint: 'Add one row per user below the header.',
      }));
    }
  }

  private checkBatch(b: RecordBatch): CheckedBatch {
    const { status, recordNo } = this.arrays.next(b.count);
    for (let i = 0; i < b.count; i++) {
      if (((b.flags[i] as number) & RECORD_BLANK) !== 0) {
        this.blank++;
        status[i] = ROW_BLANK;
        this.sink.report('blank-row', { line: b.line[i] as number, record: 0 }, null, () => ({
          message: 'Blank line skipped.',
          hint: 'Nothing to do, unless a row is missing here.',
        }));
      } else if (this.rows === null) {
        status[i] = this.beforeData(b, i);
      } else {
        const record = ++this.recordNo;
        recordNo[i] = record;
        status[i] = this.checkRow(this.rows, b, i, record) ? ROW_INVALID : ROW_VALID;
      }
    }
    return { records: b, status, recordNo };
  }

  /** A record before the first data row: Excel's `sep=` line, or the header. */
  private beforeData(b: RecordBatch, i: number): number {
    const first = !this.pastFirstRecord;
    this.pastFirstRecord = true;
    const sep = first ? b.separatorLine(i) : null;
    if (sep !== null) {
      this.separatorLine = sep;
      reportSeparatorLine(b, i, sep, this.sink);
      return ROW_BLANK;
    }
    const { options, sink, encoding, separatorLine } = this;
    this.head = takeHeader(b, i, { options, sink, encoding, separatorLine });
    this.rows = new RowIssues(this.head, this.options, this.encoding, this.sink);
    return ROW_HEADER;
  }

  /** Checks a data row; true when it is invalid. */
  private checkRow(rows: RowIssues, b: RecordBatch, i: number, record: number): boolean {
    const head = rows.head;
    // With a header over the budget (not parsed), the budget named to the user must still
    // hold the longest row as it would be written.
    if (head.oversize > 0) this.longestRow = Math.max(this.longestRow, rows.rawRowBytes(b, i));
    rows.check(b, i, record, this.sink);
    this.longestRow = Math.max(this.longestRow, rows.size);
    if (rows.complete) {
      if (head.guess?.sampling === true) head.guess.sample(b, i);
      if (head.plan !== null) this.keys.add(b, i, head.plan, { line: b.line[i] as number, record });
    }
    if (!this.sink.rowInvalid) return false;
    this.invalid.add(record);
    return true;
  }
}
