/**
 * Every limit an entry point enforces, with its default: the library checks them when it
 * resolves its options (`resolve*Options`), the CLI's flags state the same ranges, and the
 * README's tables are tested against these constants. Nothing else clamps.
 */
import { AtomicBulkError } from './errors.js';

export interface Range {
  min: number;
  max: number;
}

const ANY = Number.MAX_SAFE_INTEGER;

/** Each limit by the option it bounds. */
export const LIMITS = {
  /** A part's bytes, header included: Atomic's 32 MB upload cap (SPEC 1.5). */
  maxPartBytes: { min: 1, max: 32_000_000 },
  /** csv-task parts in flight: Atomic runs at most five bulk tasks per environment. */
  concurrency: { min: 1, max: 5 },
  /** Cards API requests in flight for reconcile and cancel. */
  cardConcurrency: { min: 1, max: 16 },
  maxIssues: { min: 0, max: ANY },
  graceMs: { min: 0, max: ANY },
  /** An S3 run lease: 1 s to 1 h. */
  leaseTtlMs: { min: 1000, max: 3_600_000 },
} as const satisfies Record<string, Range>;

export type LimitName = keyof typeof LIMITS;

export const MAX_PART_BYTES = LIMITS.maxPartBytes.max;
export const MAX_CONCURRENCY = LIMITS.concurrency.max;

/** The defaults every command shares (send, validate, split; the CLI's flag defaults). */
export const DEFAULTS = {
  maxPartBytes: MAX_PART_BYTES,
  maxIssues: 1000,
  concurrency: 2,
  /** reconcile's Cards API requests in flight. */
  reconcileConcurrency: 8,
  /** cancel's Cards API requests in flight. */
  cancelConcurrency: 4,
  graceMs: 30_000,
  leaseTtlMs: 120_000,
} as const;

export const DEFAULT_MAX_PART_BYTES = DEFAULTS.maxPartBytes;
export const DEFAULT_MAX_ISSUES = DEFAULTS.maxIssues;

/** `value` as a whole number within `range`, or a USAGE error that names it and the range. */
export function checkRange(name: string, value: number, range: Range): number {
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    const span =
      range.max === ANY
        ? `${range.min.toLocaleString('en-US')} or more`
        : `from ${range.min.toLocaleString('en-US')} to ${range.max.toLocaleString('en-US')}`;
    throw new AtomicBulkError(
      'USAGE',
      `${name} must be a whole number ${span}; it is ${String(value)}.`,
    );
  }
  return value;
}

/** Throws a USAGE error when an option given is out of its range. */
export function checkLimits(options: Partial<Record<LimitName, number>>): void {
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const value = options[name];
    if (value !== undefined) checkRange(name, value, LIMITS[name]);
  }
}
