/**
 * The catalogue of validation rules: for every issue code, what it means, at which level
 * it is found, and the module that checks it and words its message and hint. Severity
 * stays with the code in model/issue.ts (reports and the library read it there).
 *
 * `rules.test.ts` holds the catalogue to the code: every code has an entry, every entry's
 * module names the code, the report schema's enums list exactly these codes, and the
 * README documents each one. Adding a rule is therefore a checklist the tests walk:
 * 1. the code and its severity in `model/issue.ts` (ISSUE_CODES);
 * 2. its entry here;
 * 3. the check, message and hint in the module named here (row rules: the check in
 *    `row-checker.ts`/`cells.ts`, the words in `messages.ts`);
 * 4. both enums of `schemas/report.schema.json`;
 * 5. its line in the README's table of issue codes;
 * 6. a test that triggers it.
 */
import type { IssueCode } from '../model/issue.js';

export type RuleLevel =
  /** The bytes or the shape of the whole file. */
  | 'file'
  /** The header line, against the flow. */
  | 'header'
  /** One row on its own (a pure function of the row). */
  | 'row'
  /** Rows compared with each other, settled after the whole file is read. */
  | 'file-wide';

export interface Rule {
  level: RuleLevel;
  /** The module (under src/validate/) that checks the rule and words its issue. */
  checkedIn: string;
  /** What the rule says, in one line. */
  summary: string;
}

export const RULES: Record<IssueCode, Rule> = {
  'bom-stripped': {
    level: 'file',
    checkedIn: 'validator.ts',
    summary: 'a UTF-8 byte-order mark starts the file; it is removed',
  },
  'encoding-error': {
    level: 'row',
    checkedIn: 'validator.ts',
    summary: 'bytes that are not UTF-8 (or a NUL byte), located to the row and column',
  },
  'empty-file': {
    level: 'file',
    checkedIn: 'validator.ts',
    summary: 'no header line at all',
  },
  'malformed-csv': {
    level: 'row',
    checkedIn: 'row-issues.ts',
    summary: 'an unclosed quote, a quote inside an unquoted field, or text after a closing quote',
  },
  'field-count': {
    level: 'row',
    checkedIn: 'row-issues.ts',
    summary: 'a row with more or fewer fields than the header',
  },
  'blank-row': {
    level: 'row',
    checkedIn: 'validator.ts',
    summary: 'an empty line, skipped',
  },
  'record-too-large': {
    level: 'row',
    checkedIn: 'row-issues.ts',
    summary: 'a row that cannot fit in a part with the header under the part budget',
  },
  'too-many-columns': {
    level: 'header',
    checkedIn: 'header-intake.ts',
    summary: 'more columns than a campaign file can have',
  },
  'blank-header': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'a column without a name',
  },
  'duplicate-header': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'two columns with the same name',
  },
  'header-whitespace': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'a column name with spaces around it',
  },
  'invisible-character': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'a zero-width, bidi or other invisible character in a column name',
  },
  'unnormalized-header': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'a column name not in Unicode NFC, reported rather than matched',
  },
  'ambiguous-header': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'two column names that differ only in letter case',
  },
  'separator-line': {
    level: 'file',
    checkedIn: 'header-intake.ts',
    summary: "a spreadsheet's sep=, first line, skipped",
  },
  'unknown-column': {
    level: 'header',
    checkedIn: 'column-kinds.ts',
    summary: 'a column that is not a target, variable, card option, metadata or id column',
  },
  'unknown-card-option': {
    level: 'header',
    checkedIn: 'column-kinds.ts',
    summary: 'a payload.cardOptions column Atomic does not have',
  },
  'unknown-variable': {
    level: 'header',
    checkedIn: 'column-kinds.ts',
    summary:
      'a payload.variables column the flow does not define (a warning with --allow-unknown-variables)',
  },
  'missing-required-variable': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'no column for a variable the flow requires',
  },
  'missing-target-column': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'no target.attributes column to say who receives the flow',
  },
  'missing-campaign-key': {
    level: 'header',
    checkedIn: 'columns.ts',
    summary: 'a --campaign-key column that the file does not have',
  },
  'unknown-variable-type': {
    level: 'header',
    checkedIn: 'column-kinds.ts',
    summary: 'a flow variable of a type atomic-bulk does not know; its cells are taken as text',
  },
  'required-value-missing': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'an empty cell for a required variable',
  },
  'invalid-number': { level: 'row', checkedIn: 'row-checker.ts', summary: 'not a number' },
  'invalid-date': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'not a real date (and time)',
  },
  'invalid-boolean': { level: 'row', checkedIn: 'row-checker.ts', summary: 'not true or false' },
  'invalid-enum': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: "not one of the variable's allowed values",
  },
  'invalid-priority': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'a card priority that is not a whole number from 1 to 10',
  },
  'invalid-timestamp': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'an expires or embargo time that is not an ISO 8601 date-time with a zone',
  },
  'invalid-duration': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'an expiresInterval that is not a non-zero ISO 8601 duration',
  },
  'invalid-platform': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'targetPlatforms that are not Web, iOS and Android separated by |',
  },
  'invalid-stream-ids': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'targetStreamIds that are not non-empty ids separated by |',
  },
  'embargo-after-expires': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'a card hidden until after it expires',
  },
  'expires-in-past': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'a card that has expired before it is sent',
  },
  'empty-target': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'every target.attributes cell of the row is empty',
  },
  'empty-campaign-key': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'every --campaign-key cell of the row is empty, so the campaign cannot tell who it is',
  },
  'target-whitespace': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'a target value with spaces around it, which would match nobody',
  },
  'invalid-invocation-id': {
    level: 'row',
    checkedIn: 'row-checker.ts',
    summary: 'a flowInvocationId that is not 1–128 letters, digits and . _ : -',
  },
  'duplicate-invocation-id': {
    level: 'file-wide',
    checkedIn: 'duplicate-keys.ts',
    summary: "a flowInvocationId an earlier row already has (names that row's line)",
  },
  'duplicate-target': {
    level: 'file-wide',
    checkedIn: 'duplicate-keys.ts',
    summary: "the same target values as an earlier row (names that row's line)",
  },
};
