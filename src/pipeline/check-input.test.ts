import { describe, expect, it } from 'vitest';
import { MAX_PART_BYTES } from '../model/limits.js';
import { budgetFits } from './check-input.js';

describe('budgetFits', () => {
  it('names the smallest budget that works when --max-part-bytes is too small', () => {
    expect(() => {
      budgetFits(5_000, 1_000);
    }).toThrow(/--max-part-bytes 1,000 is too small .* need 5,000 bytes/);
    try {
      budgetFits(5_000, 1_000);
    } catch (error) {
      expect((error as { context: { hint?: string } }).context.hint).toMatch(
        /^Use --max-part-bytes 5000 or more \(at most 32,000,000\)/,
      );
    }
  });

  it('leaves rows too large for even the cap to be row issues, and a budget that fits alone', () => {
    expect(() => {
      budgetFits(MAX_PART_BYTES + 1, 1_000);
    }).not.toThrow();
    expect(() => {
      budgetFits(1_000, 1_000);
    }).not.toThrow();
  });
});
