import { describe, expect, it } from 'vitest';
import { AtomicBulkError } from '../model/errors.js';
import { coverage, exportUnavailable } from './reconcile-analytics.js';

const H = 3_600_000;
const file = (from: number | null, to: number | null) => ({
  url: 'https://x.test/f',
  from,
  to,
  format: 'ndjson' as const,
});

describe('coverage of the export', () => {
  it('runs from the asked start without a gap', () => {
    expect(coverage([file(0, H), file(H, 2 * H), file(2 * H, 3 * H)], 10)).toBe(3 * H);
    expect(coverage([file(2 * H, 3 * H), file(0, H), file(H, 2 * H)], 10)).toBe(3 * H);
  });
  it('stops at a gap, and at a first file that starts late', () => {
    expect(coverage([file(0, H), file(2 * H, 3 * H)], 10)).toBe(H);
    expect(coverage([file(H, 2 * H)], 10)).toBe(10);
    expect(coverage([], 10)).toBe(10);
  });
  it('is unknown when a file does not say its period', () => {
    expect(coverage([file(0, H), file(null, null)], 10)).toBeNull();
  });
});

describe('--source auto and a listing that fails', () => {
  const api = (status?: number) =>
    new AtomicBulkError(
      'API',
      'GET analytics export failed',
      status === undefined ? {} : { status },
    );
  it('asks the Cards API for any refusal, unreadable answer or server error', () => {
    expect(exportUnavailable(api(404))).toBe('the analytics export is not offered here');
    expect(
      exportUnavailable(new AtomicBulkError('NOT_FOUND', 'not offered', { status: 404 })),
    ).toBe('the analytics export is not offered here');
    expect(exportUnavailable(new AtomicBulkError('AUTH', 'forbidden', { status: 403 }))).toBe(
      'the analytics export could not be listed (HTTP 403)',
    );
    expect(exportUnavailable(api(400))).toBe('the analytics export could not be listed (HTTP 400)');
    expect(exportUnavailable(api(503))).toBe('the analytics export could not be listed (HTTP 503)');
    expect(exportUnavailable(api())).toBe(
      'the analytics export could not be listed (no usable answer)',
    );
  });
  it('lets an interruption or a bug stop the command', () => {
    expect(exportUnavailable(new AtomicBulkError('INTERRUPTED', 'stopped'))).toBeNull();
    expect(exportUnavailable(new Error('bug'))).toBeNull();
  });
});
