import { describe, expect, it } from 'vitest';
import type { PartReport, Report } from '../model/report.js';
import { reconcile } from './report.js';

function part(number: number, rows: number, over: Partial<PartReport> = {}): PartReport {
  return { number, rows, status: 'uploaded', previouslyUploaded: false, ...over } as PartReport;
}

/** A send report whose counts agree: 10 rows, 8 valid, sent in two parts of 4. */
function sendReport(over: Partial<Report> = {}): Report {
  return {
    command: 'send',
    outcome: 'partial',
    dryRun: false,
    rows: { total: 10, valid: 8, invalid: 2, blank: 0, sent: 8, alreadySent: 0 },
    parts: [part(1, 4), part(2, 4)],
    issueCounts: { errors: 2, warnings: 0, byCode: {} },
    ...over,
  } as Report;
}

describe('reconcile (the report’s own count guard)', () => {
  it('finds nothing in a report whose counts agree', () => {
    expect(reconcile(sendReport())).toEqual([]);
    const resumed = sendReport({
      rows: { total: 10, valid: 8, invalid: 2, blank: 0, sent: 4, alreadySent: 4 },
      parts: [part(1, 4, { previouslyUploaded: true }), part(2, 4)],
    });
    expect(reconcile(resumed)).toEqual([]);
  });

  it('names rows that do not add up', () => {
    const bad = sendReport({
      rows: { total: 11, valid: 8, invalid: 2, blank: 0, sent: 8, alreadySent: 0 },
    });
    expect(reconcile(bad)).toEqual(['rows.total 11 != valid 8 + invalid 2']);
  });

  it('names parts that hold other rows than were counted as sent, now or earlier', () => {
    const more = sendReport({
      rows: { total: 10, valid: 8, invalid: 2, blank: 0, sent: 7, alreadySent: 0 },
    });
    expect(reconcile(more)).toContain('parts uploaded now hold 8 rows, rows.sent is 7');
    const earlier = sendReport({ parts: [part(1, 4, { previouslyUploaded: true }), part(2, 4)] });
    expect(reconcile(earlier)).toContain(
      'parts uploaded earlier hold 4 rows, rows.alreadySent is 0',
    );
  });

  it('refuses a part marked as uploaded earlier that is not uploaded', () => {
    const report = sendReport({
      parts: [part(1, 4), part(2, 4, { previouslyUploaded: true, status: 'failed' })],
    });
    expect(reconcile(report)).toContain('a part marked as uploaded earlier is not uploaded');
  });

  it('holds a success to every valid row sent and no error', () => {
    const success = sendReport({
      outcome: 'success',
      parts: [part(1, 4), part(2, 4, { status: 'failed' })],
    });
    const problems = reconcile(success);
    expect(problems).toContain('2 invalid rows in a successful run');
    expect(problems).toContain('2 errors in a successful run');
    expect(problems).toContain('a part is not uploaded');
  });

  it('counts campaign rows skipped as sent already, and refuses more than the valid rows', () => {
    const skipped = sendReport({
      outcome: 'success',
      rows: {
        total: 8,
        valid: 8,
        invalid: 0,
        blank: 0,
        sent: 4,
        alreadySent: 0,
        skippedAlreadySent: 4,
      },
      parts: [part(1, 4)],
      issueCounts: { errors: 0, warnings: 0, byCode: {} },
    });
    expect(reconcile(skipped)).toEqual([]);
    const over = sendReport({
      rows: { ...skipped.rows, skippedAlreadySent: 5 },
      parts: [part(1, 4)],
    });
    expect(reconcile(over).join('\n')).toMatch(/rows sent 4 \+ skipped 5 > rows.valid 8/);
  });

  it('wants parts numbered 1..n', () => {
    expect(reconcile(sendReport({ parts: [part(1, 4), part(3, 4)] }))).toContain(
      'parts are not numbered 1..n',
    );
  });
});
