/**
 * The limits every entry point enforces, the library as much as the CLI: a part budget
 * within Atomic's 32 MB cap, 1–5 parts in flight (Atomic runs at most five bulk tasks per
 * environment), whole non-negative counts. The CLI's flags state the same ranges.
 */
import { AtomicBulkError } from '../model/errors.js';
import { MAX_PART_BYTES } from './check-input.js';

export const MAX_CONCURRENCY = 5;

function whole(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new AtomicBulkError(
      'USAGE',
      `${name} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}; it is ${String(value)}.`,
    );
}

/** Throws a USAGE error when an option is out of its range. */
export function checkLimits(options: {
  maxPartBytes?: number;
  concurrency?: number;
  maxIssues?: number;
  graceMs?: number;
  leaseTtlMs?: number;
}): void {
  whole('maxPartBytes', options.maxPartBytes, 1, MAX_PART_BYTES);
  whole('concurrency', options.concurrency, 1, MAX_CONCURRENCY);
  whole('maxIssues', options.maxIssues, 0, Number.MAX_SAFE_INTEGER);
  whole('graceMs', options.graceMs, 0, Number.MAX_SAFE_INTEGER);
  whole('leaseTtlMs', options.leaseTtlMs, 1000, 3_600_000);
}
