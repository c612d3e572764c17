import { describe, expect, it } from 'vitest';
import { AtomicBulkError } from '../model/errors.js';
import type { CommandContext } from '../report/next-steps.js';
import { alreadySentNextStep, sendNextStep, type SendEnd } from './send-report.js';

const context: CommandContext = {
  input: 'campaign.csv',
  flowConfigId: 'renewal-reminder',
  flags: [],
  rejectedCsv: 'reports/rejected.csv',
  reportDir: 'reports',
  sandbox: false,
  ownIds: false,
};
const RUN = 'a'.repeat(64);
const end = (over: Partial<SendEnd>): SendEnd => ({
  outcome: 'success',
  fatal: null,
  runId: RUN,
  invalid: 0,
  ...over,
});

describe('sendNextStep', () => {
  it('success and partial: reconcile; partial also sends rejected.csv alone', () => {
    expect(sendNextStep(context, end({}))).toMatch(/^All rows were sent/);
    const partial = sendNextStep(context, end({ outcome: 'partial', invalid: 3 }));
    expect(partial).toMatch(/fix the 3 rows in rejected.csv/);
    expect(partial).toMatch(/`atomic-bulk send reports\/rejected.csv --flow renewal-reminder`/);
  });

  it('interrupted: the same command resumes the run, named by its id', () => {
    expect(sendNextStep(context, end({ outcome: 'interrupted' }))).toMatch(
      new RegExp(`run ${RUN.slice(0, 16)}…: uploaded parts are skipped`),
    );
  });

  it('an input changed between passes: never "run again" (new ids would send rows twice)', () => {
    const fatal = new AtomicBulkError('INPUT', 'The input changed while it was read.');
    const step = sendNextStep(context, end({ outcome: 'failed', fatal }));
    expect(step).toMatch(/^The input changed while it was read\./);
    expect(step).toMatch(/without those rows, or cancel this run's cards first/);
    expect(step).not.toMatch(/run the same command again/);
  });

  it('a closed window says when it opens; other fatal errors add their hint and resume', () => {
    const paused = new AtomicBulkError('PAUSED', 'The window opens at 08:00.', {
      hint: 'Run it then.',
    });
    expect(sendNextStep(context, end({ outcome: 'failed', fatal: paused }))).toBe(
      'The window opens at 08:00. Run it then.',
    );
    const auth = new AtomicBulkError('AUTH', 'Refused.', { hint: 'Check the secret.' });
    expect(sendNextStep(context, end({ outcome: 'failed', fatal: auth }))).toBe(
      'Refused. Check the secret. Then run the same command again to resume.',
    );
    expect(sendNextStep(context, end({ outcome: 'failed' }))).toMatch(/^Some parts failed/);
  });

  it('already sent: names the run and both ways to send again', () => {
    const step = alreadySentNextStep(RUN, '2026-12-07');
    expect(step).toMatch(/--run-id <new id>/);
    expect(step).toMatch(/--force/);
  });
});
