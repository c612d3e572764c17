/**
 * Issues are the tool's unit of feedback on input: one per problem, located to the
 * physical line where the record starts and to the column, never carrying a cell value.
 * The set of codes is closed and stable (SPEC 2.4); scripts branch on them.
 */

export type Severity = 'error' | 'warning';

export const ISSUE_CODES = {
  'bom-stripped': 'warning',
  'encoding-error': 'error',
  'empty-file': 'error',
  'malformed-csv': 'error',
  'field-count': 'error',
  'blank-row': 'warning',
  'record-too-large': 'error',
  'too-many-columns': 'error',
  'blank-header': 'error',
  'duplicate-header': 'error',
  'header-whitespace': 'error',
  'invisible-character': 'error',
  'unnormalized-header': 'error',
  'ambiguous-header': 'error',
  'separator-line': 'warning',
  'unknown-column': 'error',
  'unknown-card-option': 'error',
  'unknown-variable': 'error',
  'missing-required-variable': 'error',
  'missing-target-column': 'error',
  'missing-campaign-key': 'error',
  'unknown-variable-type': 'warning',
  'required-value-missing': 'error',
  'invalid-number': 'error',
  'invalid-date': 'error',
  'invalid-boolean': 'error',
  'invalid-enum': 'error',
  'invalid-priority': 'error',
  'invalid-timestamp': 'error',
  'invalid-duration': 'error',
  'invalid-platform': 'error',
  'invalid-stream-ids': 'error',
  'embargo-after-expires': 'error',
  'expires-in-past': 'warning',
  'empty-target': 'error',
  'empty-campaign-key': 'error',
  'target-whitespace': 'error',
  'invalid-invocation-id': 'error',
  'duplicate-invocation-id': 'error',
  'duplicate-target': 'warning',
} as const satisfies Record<string, Severity>;

export type IssueCode = keyof typeof ISSUE_CODES;

export interface Issue {
  severity: Severity;
  code: IssueCode;
  /**
   * 1-based physical line where the record starts; the header is line 1. In a report of
   * a multi-file input, the line within `file`.
   */
  line: number;
  /** The file of a multi-file input the line is in (reports only; absent otherwise). */
  file?: string;
  /** 1-based data-record number; 0 for the header and file-level issues. */
  record: number;
  /** Header name of the column, or null when the issue concerns the whole row or file. */
  column: string | null;
  /** 1-based column position, or null. */
  columnIndex: number | null;
  message: string;
  hint: string;
}

/** Where an issue points; the severity always follows from the code. */
export interface IssueLocation {
  line: number;
  record: number;
  column?: string | null;
  columnIndex?: number | null;
}

/**
 * Builds an issue whose severity is the one the code is catalogued with (a caller that
 * lowers it, like --allow-unknown-variables, overrides `severity` on the result).
 */
export function issue(code: IssueCode, at: IssueLocation, message: string, hint = ''): Issue {
  return {
    severity: ISSUE_CODES[code],
    code,
    line: at.line,
    record: at.record,
    column: at.column ?? null,
    columnIndex: at.columnIndex ?? null,
    message,
    hint,
  };
}

/** Orders issues as a reader scans a file: by line, then column, then code. */
export function compareIssues(a: Issue, b: Issue): number {
  return (
    a.line - b.line ||
    (a.columnIndex ?? 0) - (b.columnIndex ?? 0) ||
    (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)
  );
}
