import { describe, expect, it } from 'vitest';
import { checkLimits, checkRange, DEFAULTS, LIMITS } from './limits.js';

describe('limits', () => {
  it('every default lies within its limit', () => {
    expect(DEFAULTS.maxPartBytes).toBeLessThanOrEqual(LIMITS.maxPartBytes.max);
    expect(DEFAULTS.concurrency).toBeLessThanOrEqual(LIMITS.concurrency.max);
    expect(DEFAULTS.reconcileConcurrency).toBeLessThanOrEqual(LIMITS.cardConcurrency.max);
    expect(DEFAULTS.cancelConcurrency).toBeLessThanOrEqual(LIMITS.cardConcurrency.max);
    expect(DEFAULTS.leaseTtlMs).toBeGreaterThanOrEqual(LIMITS.leaseTtlMs.min);
    expect(() => {
      checkLimits(DEFAULTS);
    }).not.toThrow();
  });

  it('names the option and its range, for values off either end, fractions and NaN', () => {
    for (const bad of [0, 6, 2.5, Number.NaN, -1]) {
      expect(() => {
        checkLimits({ concurrency: bad });
      }).toThrow(/concurrency must be a whole number from 1 to 5/);
    }
    expect(() => {
      checkLimits({ maxPartBytes: 32_000_001 });
    }).toThrow(/maxPartBytes .* 1 to 32,000,000; it is 32000001/);
    expect(() => checkRange('maxIssues', -1, LIMITS.maxIssues)).toThrow(
      /maxIssues must be a whole number 0 or more; it is -1/,
    );
    expect(checkRange('concurrency', 16, LIMITS.cardConcurrency)).toBe(16);
  });

  it('leaves options it was not given alone', () => {
    expect(() => {
      checkLimits({});
    }).not.toThrow();
  });
});
