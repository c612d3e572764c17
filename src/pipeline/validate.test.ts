import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../model/limits.js';
import type { LoadedFlow } from './flow-source.js';
import { resolveSplitOptions } from './split.js';
import { resolveValidateOptions } from './validate.js';

const flow = {} as LoadedFlow;

describe('validate and split resolve their options like send', () => {
  it('apply the shared defaults', () => {
    const v = resolveValidateOptions({ input: 'in.csv', flow });
    expect([v.maxPartBytes, v.maxIssues, v.allowUnknownVariables]).toEqual([
      DEFAULTS.maxPartBytes,
      DEFAULTS.maxIssues,
      false,
    ]);
    const s = resolveSplitOptions({ input: 'in.csv', outDir: 'parts' });
    expect([s.maxPartBytes, s.maxIssues, s.policy]).toEqual([
      DEFAULTS.maxPartBytes,
      DEFAULTS.maxIssues,
      'abort',
    ]);
  });

  it('refuse an option out of range, naming it, before any file is read', () => {
    expect(() => resolveValidateOptions({ input: 'missing.csv', flow, maxPartBytes: 0 })).toThrow(
      /maxPartBytes must be a whole number from 1 to 32,000,000; it is 0/,
    );
    expect(() =>
      resolveSplitOptions({ input: 'missing.csv', outDir: 'parts', maxIssues: -1 }),
    ).toThrow(/maxIssues must be a whole number 0 or more; it is -1/);
  });
});
