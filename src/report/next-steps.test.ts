import { describe, expect, it } from 'vitest';
import {
  invalidNextStep,
  partialNextStep,
  sentNextStep,
  validNextStep,
  type CommandContext,
} from './next-steps.js';

const context: CommandContext = {
  input: "'my campaign.csv'",
  flowConfigId: 'renewal-reminder',
  flags: ['--state-dir', '/tmp/state dir', '--base-url', 'https://api.example', '--test'],
  rejectedCsv: '/reports/run 1/rejected.csv',
  reportDir: '/reports/run 1',
  sandbox: false,
  ownIds: false,
};

/** Every command a step names, as the words a shell would see. */
function commands(step: string): string[][] {
  return [...step.matchAll(/`atomic-bulk ([^`]*)`/g)].map((m) => shellWords(m[1] ?? ''));
}

/** POSIX single-quote words, as the steps write them. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] ?? ''));
  return words;
}

describe('next steps a person (or a test) can follow literally', () => {
  it('validate: send the file as given, with the flags repeated and quoted', () => {
    expect(commands(validNextStep(context))).toEqual([
      ['send', 'my campaign.csv', '--flow', 'renewal-reminder', ...context.flags],
    ]);
  });

  it('invalid rows: the valid ones with --on-invalid skip, then rejected.csv on its own', () => {
    const step = invalidNextStep(context, { valid: 8, invalid: 2 }, 0, 'abort');
    expect(step).toMatch(/^Nothing was sent \(--on-invalid abort\)\./);
    const [valid, fixed] = commands(step);
    expect(valid).toEqual([
      'send',
      'my campaign.csv',
      '--flow',
      'renewal-reminder',
      ...context.flags,
      '--on-invalid',
      'skip',
    ]);
    // Not the original file again (its valid rows would go twice): the rejected rows only.
    expect(fixed).toEqual([
      'send',
      context.rejectedCsv,
      '--flow',
      'renewal-reminder',
      ...context.flags,
    ]);
  });

  it('file errors: nothing to send until the header is fixed; no valid row: rejected.csv only', () => {
    expect(commands(invalidNextStep(context, { valid: 8, invalid: 2 }, 1, null))).toEqual([]);
    const none = commands(invalidNextStep(context, { valid: 0, invalid: 3 }, 0, 'skip'));
    expect(none).toHaveLength(1);
    expect(none[0]?.[1]).toBe(context.rejectedCsv);
  });

  it('after a send: reconcile the report folder with the connection flags only', () => {
    for (const step of [sentNextStep(context), partialNextStep(context, 2)]) {
      const reconcile = commands(step).find((c) => c[0] === 'reconcile');
      expect(reconcile).toEqual([
        'reconcile',
        context.reportDir,
        '--base-url',
        'https://api.example',
      ]);
    }
  });

  it('after a sandbox send: no reconcile of a sandbox that is gone', () => {
    const step = sentNextStep({ ...context, sandbox: true });
    expect(commands(step).some((c) => c[0] === 'reconcile')).toBe(false);
    expect(step).toMatch(/atomic-bulk sandbox/);
  });

  it('rows with their own ids: the step says what a reused id does', () => {
    expect(sentNextStep({ ...context, ownIds: true })).toMatch(/"reused"/);
  });
});
