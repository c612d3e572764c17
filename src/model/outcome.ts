/**
 * Exit codes (SPEC 3), the same for every command. This table is the single definition;
 * only src/cli/main.ts ends the process with them.
 */
import type { ErrorCode } from './errors.js';
import type { Outcome } from './report.js';

export const EXIT = {
  success: 0,
  invalid: 1,
  usage: 2,
  remote: 3,
  partial: 4,
  /** Rows were sent, but the report could not be written: do not send again, re-make the report. */
  reportFailed: 5,
  interrupted: 130,
  /** A bug in atomic-bulk (EX_SOFTWARE): main.ts prints the stack. */
  bug: 70,
} as const;

export const EXIT_BY_OUTCOME: Record<Outcome, number> = {
  success: EXIT.success,
  invalid: EXIT.invalid,
  partial: EXIT.partial,
  failed: EXIT.remote,
  interrupted: EXIT.interrupted,
};

export const EXIT_BY_ERROR: Record<ErrorCode, number> = {
  USAGE: EXIT.usage,
  CONFIG: EXIT.usage,
  INPUT: EXIT.usage,
  FLOW_CONFIG: EXIT.usage,
  STATE: EXIT.usage,
  // Like a remote failure, retrying later can succeed: not 2, which says retrying is pointless.
  BUSY: EXIT.remote,
  OUTPUT: EXIT.usage,
  AUTH: EXIT.remote,
  NOT_FOUND: EXIT.remote,
  API: EXIT.remote,
  REPORT: EXIT.reportFailed,
  INTERRUPTED: EXIT.interrupted,
  // Not a failure: the window closed. Like a remote failure, running again later finishes it.
  PAUSED: EXIT.remote,
};
