/** What the validation stage takes and returns (validator.ts), shared by its parts. */
import type { LineMap } from '../model/line-map.js';
import type { FlowConfig } from '../model/flow.js';
import type { RecordSet } from '../model/record-set.js';
import type { RowLayout } from '../model/row-layout.js';
import type { CardOptionGuess } from './card-option-guess.js';
import type { ColumnPlan } from './columns.js';
import type { RowChecker } from './row-checker.js';

export interface ValidatorOptions {
  /** The flow to check against; null runs the structural checks only. */
  flow: FlowConfig | null;
  allowUnknownVariables: boolean;
  /** Part budget in bytes: a record that cannot fit in a part with the header is an error. */
  maxPartBytes: number;
  /** The send pipeline will add a flowInvocationId where missing; count those bytes too. */
  addsInvocationIds: boolean;
  /** "Now" for expires-in-past, in ms since the epoch. */
  nowMs: number;
  /** Memory for the duplicate finder before it spills to disk; see DuplicateFinder. */
  duplicateMemoryBytes?: number;
  tempDir?: string;
  /** For a multi-file input, where each file's lines begin: messages then name `file:line`. */
  lines?: LineMap;
  /** send --campaign: key columns, each row's key must not be empty (SPEC 8). */
  campaignKeys?: readonly string[];
}

/** What the row checks know of the header (header-intake.ts). */
export interface HeaderState {
  names: string[];
  line: number;
  /** Byte length as written to parts (with LF and any added column); 0 when not kept. */
  bytes: number;
  /** Bytes of a header too large for the budget (it is not kept); 0 otherwise. */
  oversize: number;
  plan: ColumnPlan | null;
  layout: RowLayout;
  checker: RowChecker | null;
  /** Guesses card options written as variables, from a sample of rows; null when not sampling. */
  guess: CardOptionGuess | null;
  where: (line: number, other?: number) => string;
}

export interface RowCounts {
  /** Data records (blank lines and the header excluded); total = valid + invalid. */
  total: number;
  valid: number;
  invalid: number;
  blank: number;
}

export interface ValidationResult {
  header: string[] | null;
  headerLine: number;
  plan: ColumnPlan | null;
  rows: RowCounts;
  /** Data-record numbers with at least one error. */
  invalid: RecordSet;
  /** Data-record numbers whose invocation id repeats an earlier row's. */
  duplicateIds: RecordSet;
  /** Errors that concern the file or header, which block sending whatever the policy. */
  fileErrors: number;
  /** Byte length of the header as it will be written to parts (with LF and any added column). */
  headerBytes: number;
  /** The smallest part budget that holds the header and any one row (with its added id). */
  smallestBudget: number;
}

/** An invalid row read again for rejected.csv. */
export interface RejectedRowReport {
  line: number;
  /**
   * Parsed values without any trailing _line/_errors columns; null when too large to keep,
   * or when `text` holds the row.
   */
  fields: string[] | null;
  /** The row's cells as rejected.csv writes them (comma-separated), when its bytes were that already. */
  text?: string;
  /** Each error as `code (column)`. */
  errors: string[];
}

/** Bytes added to each row by the flowInvocationId the tool assigns: "," + 36-char UUID. */
export const ADDED_ID_BYTES = 37;
/** Widest header checked against a flow (SPEC is silent; docs/decisions.md). */
export const MAX_COLUMNS = 20_000;

/** `line 7` (or `lines 3 and 7`); `a.csv:7` (`a.csv:3 and b.csv:2`) for a multi-file input. */
export function describeLines(lines: LineMap | undefined, line: number, other?: number): string {
  if (lines === undefined || !lines.multiFile)
    return other === undefined ? `line ${line}` : `lines ${line} and ${other}`;
  return other === undefined ? lines.label(line) : `${lines.label(line)} and ${lines.label(other)}`;
}
