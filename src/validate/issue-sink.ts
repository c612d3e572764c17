/**
 * Where the validator's checks report to. The checks are the same in both passes; what a
 * report does is not: the first pass counts every issue and keeps those the log keeps
 * (`LogSink`), the explaining pass collects one row's errors for rejected.csv
 * (`ExplainSink`). Either way the sink remembers whether the row at hand has an error.
 */
import { issue, ISSUE_CODES, type IssueCode, type IssueLocation } from '../model/issue.js';
import type { IssueLog } from '../model/issue-log.js';
import type { Issue } from '../model/issue.js';

/** The column an issue is about: its header and 1-based position. */
export interface ColumnRef {
  column: string | null;
  columnIndex: number | null;
}

/** Builds an issue's text; called only when the issue is kept. */
export type IssueText = () => { message: string; hint: string };

export interface IssueSink {
  /** Set by any error reported for a data row; the validator clears it before each row. */
  rowInvalid: boolean;
  report(code: IssueCode, at: IssueLocation, column: ColumnRef | null, text: IssueText): void;
}

/** What a check needs to report: the sink, and how columns and lines are named. */
export interface Reporter {
  sink: IssueSink;
  columnOf: (index: number) => ColumnRef | null;
  /** `line 7`, or `lines 3 and 7` (file names for a multi-file input). */
  where: (line: number, other?: number) => string;
}

/** A header's column `index` (0-based), as issues name it; null for the row as a whole. */
export function columnRef(header: readonly string[] | null, index: number): ColumnRef | null {
  if (index < 0 || header === null) return null;
  return { column: header[index] ?? null, columnIndex: index + 1 };
}

/** The first pass: counts every issue, keeps what the log keeps, counts file errors. */
export class LogSink implements IssueSink {
  rowInvalid = false;
  /** Errors about the file or header (record 0), which block sending whatever the policy. */
  fileErrors = 0;

  constructor(private readonly log: IssueLog) {}

  report(code: IssueCode, at: IssueLocation, column: ColumnRef | null, text: IssueText): void {
    if (ISSUE_CODES[code] === 'error') {
      if (at.record === 0) this.fileErrors++;
      else this.rowInvalid = true;
    }
    if (!this.log.wouldRetain(at.line)) {
      this.log.count(code);
      return;
    }
    const { message, hint } = text();
    this.log.add(issue(code, { ...at, ...(column ?? {}) }, message, hint));
  }

  /** An issue made whole elsewhere (the header plan's). */
  add(item: Issue): void {
    if (item.severity === 'error') this.fileErrors++;
    this.log.add(item);
  }
}

/**
 * The explaining pass: one row's errors as `code (column)`, nothing logged. It sees a row
 * end where the first pass did, so rejected.csv's `_errors` list exactly the row's issues
 * in the report (no cell checks on a broken row).
 */
export class ExplainSink implements IssueSink {
  rowInvalid = false;
  readonly errors: string[] = [];

  report(code: IssueCode, at: IssueLocation, column: ColumnRef | null): void {
    if (ISSUE_CODES[code] !== 'error') return;
    this.errors.push(column?.column != null ? `${code} (${column.column})` : code);
    if (at.record !== 0) this.rowInvalid = true;
  }
}
