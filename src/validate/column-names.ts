/**
 * The names a campaign header may use (SPEC 2.1) and what the header analysis makes of
 * them: a kind and a cell rule per column, collected in a ColumnPlan.
 */
import type { Issue } from '../model/issue.js';

export const TARGET_PREFIX = 'target.attributes.';
export const VARIABLE_PREFIX = 'payload.variables.';
export const CARD_OPTION_PREFIX = 'payload.cardOptions.';
export const METADATA_PREFIX = 'payload.metadata.';
export const NOTIFICATION_PREFIX = 'payload.notificationDetail.';
export const INVOCATION_ID_COLUMN = 'flowInvocationId';
export const RECOMMENDED_TARGET = `${TARGET_PREFIX}atomic___id`;
/** Columns rejected.csv adds; accepted at the end of a header, never sent. */
export const ANNOTATION_COLUMNS = ['_line', '_errors'] as const;

export const CARD_OPTIONS = [
  'priority',
  'expires',
  'expiresInterval',
  'embargo',
  'targetStreamIds',
  'targetPlatforms',
] as const;
export type CardOption = (typeof CARD_OPTIONS)[number];

/** How a column's cells are checked. */
export type CellRule =
  | 'text'
  | 'number'
  | 'date'
  | 'boolean'
  | 'priority'
  | 'timestamp'
  | 'duration'
  | 'stream-ids'
  | 'platforms'
  | 'enum'
  | 'invocation-id';

export type ColumnKind =
  | 'target'
  | 'variable'
  | 'card-option'
  | 'metadata'
  | 'notification'
  | 'invocation-id'
  /** `_line` / `_errors` at the end of the header, from a rejected.csv: ignored, not sent. */
  | 'annotation'
  /** Unknown, duplicate or blank: not checked, and the header error blocks sending. */
  | 'unusable';

export interface ColumnSpec {
  /** 0-based position. */
  index: number;
  /** The header as written. */
  name: string;
  kind: ColumnKind;
  rule: CellRule;
  /** A non-empty cell is required in every row. */
  required: boolean;
  /** For the enum rule: the values the flow allows. */
  allowed?: readonly string[];
}

export interface ColumnPlan {
  header: string[];
  columns: ColumnSpec[];
  /** Positions of target.attributes.* columns. */
  targets: number[];
  /** Positions of the --campaign-key columns (empty without --campaign). */
  campaignKeys: number[];
  /** Position of flowInvocationId, or -1. */
  invocationId: number;
  /** Positions of the expires and embargo card options, or -1. */
  expires: number;
  embargo: number;
  /** Position of the first trailing annotation column; the header length when none. */
  annotationStart: number;
  issues: Issue[];
}

/** Where the trailing `_line` / `_errors` columns of a re-sent rejected.csv begin. */
export function annotationStart(header: string[]): number {
  let k = header.length;
  while (k > 0 && (ANNOTATION_COLUMNS as readonly string[]).includes(header[k - 1] as string)) k--;
  return k;
}

export interface ColumnPlanOptions {
  /** Report undefined payload.variables.* columns as warnings instead of errors. */
  allowUnknownVariables: boolean;
  /** Physical line of the header (1 unless blank lines precede it). */
  headerLine: number;
  /** The separator an Excel `sep=X` line before the header named, if there was one. */
  separatorLine?: string | null;
  /** send --campaign: the columns that name a row within the campaign (SPEC 8). */
  campaignKeys?: readonly string[];
}
