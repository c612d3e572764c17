/**
 * The CLI's part of --notify: a command that fails after its report was told (the report
 * could not be written: exit 5) tells again with the exit code it really ends with; one
 * whose failure report already told that exit code does not tell twice.
 */
import { describe, expect, it } from 'vitest';
import { json, testServer } from '../../test/http-server.js';
import { AtomicBulkError } from '../model/errors.js';
import { IssueLog } from '../model/issue-log.js';
import type { Outcome } from '../model/report.js';
import { Notifier } from '../notify/notifier.js';
import { buildReport } from '../report/report.js';
import { withNotice } from './notify-args.js';

function report(outcome: Outcome, exitCode: number) {
  const at = new Date('2026-12-07T02:00:00Z');
  return buildReport({
    command: 'send',
    runId: 'r'.repeat(64),
    startedAt: at,
    finishedAt: at,
    durationMs: { total: 0, validate: 0, split: 0, upload: 0 },
    input: { source: 'in.csv', bytes: 10, sha256: null, bom: false, lineEndings: 'LF' },
    flow: { flowConfigId: 'flow', version: 1, mode: 'live', source: 'api' },
    rows: { total: 3, valid: 3, invalid: 0, blank: 0, sent: 3, alreadySent: 0 },
    log: new IssueLog(0),
    parts: [],
    outcome,
    exitCode,
    dryRun: false,
    files: { rejected: null, invocations: null },
    nextStep: 'Nothing.',
  });
}

async function setup() {
  const server = await testServer((_req, res) => json(res, 200, {}));
  const notifier = new Notifier({
    command: 'send',
    urls: [`${server.url}/hook`],
    warn: () => undefined,
  });
  const told = () =>
    server.requests.map((r) => {
      const body = JSON.parse(r.body) as { status: string; exitCode: number };
      return [body.status, body.exitCode];
    });
  return { notifier, told };
}

describe('withNotice', () => {
  it('tells again when the report was told but could not be written (exit 5)', async () => {
    const { notifier, told } = await setup();
    const written = report('success', 0);
    await expect(
      withNotice(notifier, async () => {
        await notifier.notify(written, 'reports/today');
        throw new AtomicBulkError(
          'REPORT',
          '3 rows were sent, but the report could not be written.',
        );
      }),
    ).rejects.toThrow(/could not be written/);
    expect(written.exitCode).not.toBe(5);
    expect(told()).toEqual([
      [written.outcome, written.exitCode],
      ['failed', 5],
    ]);
  });

  it('does not tell twice when the failure report told the same exit code', async () => {
    const { notifier, told } = await setup();
    await expect(
      withNotice(notifier, async () => {
        await notifier.notify(report('failed', 3), 'reports/today');
        throw new AtomicBulkError('API', 'csv-task failed.');
      }),
    ).rejects.toThrow(/csv-task/);
    expect(told()).toEqual([['failed', 3]]);
  });

  it('tells a failure before any report, and nothing when no notifier is set', async () => {
    const { notifier, told } = await setup();
    await expect(
      withNotice(notifier, () => Promise.reject(new AtomicBulkError('USAGE', 'No such file.'))),
    ).rejects.toThrow();
    expect(told()).toEqual([['failed', 2]]);
    await expect(withNotice(undefined, () => Promise.resolve(7))).resolves.toBe(7);
  });
});
