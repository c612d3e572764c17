/**
 * The one error class of the tool. Fatal conditions (bad flags, unreadable input, a
 * refused credential) throw it; problems in the data are Issues, never exceptions.
 * `message` is one line that says what failed and what to do next, and never holds a
 * secret or a cell value.
 */

export const ERROR_CODES = [
  /** Bad or conflicting flags and arguments. */
  'USAGE',
  /** Missing or invalid connection settings or credentials. */
  'CONFIG',
  /** The input cannot be opened or read, or it changed while the run was reading it. */
  'INPUT',
  /** The flow config is malformed or unreadable. */
  'FLOW_CONFIG',
  /** The run state on disk does not match this run (different file, settings or flow). */
  'STATE',
  /** Another send holds the run (its lock or S3 lease): try again once it is done. */
  'BUSY',
  /** Credentials refused by the token endpoint or the API (401/403). */
  'AUTH',
  /** A resource the run needs does not exist (404): the flow, its version. */
  'NOT_FOUND',
  /** The API answered with an error that retrying will not fix, or kept failing. */
  'API',
  /** Writing a part, a report or the state failed. */
  'OUTPUT',
  /**
   * Rows were uploaded, but the report of the send could not be written (a full disk, a
   * folder that became read-only): the campaign is out, its record is not.
   */
  'REPORT',
  /** The run was stopped by a signal. */
  'INTERRUPTED',
  /** send --window: outside its hours the send stops before its next part; run it again then. */
  'PAUSED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorContext {
  /** HTTP status, when the error comes from a response. */
  status?: number;
  /** What the tool was doing, e.g. "GET /v1/{env}/action-flow". */
  operation?: string;
  /** A response body or detail with every secret removed. */
  detail?: string;
  /** What the user can do next, printed after the message. */
  hint?: string;
  /** How long the server asked the caller to wait (Retry-After), when it did. */
  retryAfterMs?: number;
  /** Retrying cannot help: an unsafe redirect or upload URL, an oversized answer. */
  fatal?: boolean;
}

export class AtomicBulkError extends Error {
  override readonly name = 'AtomicBulkError';
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.context = context;
  }
}

export function isAtomicBulkError(value: unknown): value is AtomicBulkError {
  return value instanceof AtomicBulkError;
}
