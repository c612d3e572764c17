/**
 * Numbers the docs quote come from the code: the README's table of options and their
 * defaults, and the retry policy's attempts quoted in README and ARCHITECTURE. A constant
 * that changes makes this fail until the docs say the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CONCURRENCY } from '../src/model/limits.js';
import { DEFAULT_CAMPAIGN_KEY, SEND_DEFAULTS } from '../src/pipeline/send-options.js';
import { DEFAULT_RETRY } from '../src/model/retry.js';

const ROOT = join(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ARCHITECTURE = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');

/** The README options table: first cell (the flags) → second cell (the default). */
function optionDefaults(): Map<string, string> {
  const table = README.split('The options used most:')[1]?.split('\n\n')[1] ?? '';
  const out = new Map<string, string>();
  for (const line of table.split('\n').filter((l) => l.startsWith('| `--'))) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    out.set(cells[1] ?? '', cells[2] ?? '');
  }
  return out;
}

describe('numbers in the docs', () => {
  it('the README options table gives the defaults the code uses', () => {
    const table = optionDefaults();
    const get = (flag: string) => [...table].find(([k]) => k.startsWith(`\`${flag}`))?.[1];
    expect(get('--concurrency')).toBe(String(SEND_DEFAULTS.concurrency));
    expect(get('--max-part-bytes')).toBe(String(SEND_DEFAULTS.maxPartBytes));
    expect(get('--max-issues')).toBe(String(SEND_DEFAULTS.maxIssues));
    expect(get('--on-invalid')).toBe(`\`${SEND_DEFAULTS.onInvalid}\``);
    expect(get('--state-dir')).toBe(`\`${SEND_DEFAULTS.stateDir}\``);
    expect(get('--campaign')).toContain(`\`${DEFAULT_CAMPAIGN_KEY}\``);
    expect(README).toContain(`\`--lease-ttl ${SEND_DEFAULTS.leaseTtlMs / 1000}\``);
    expect(README).toContain(`1–${MAX_CONCURRENCY}`);
  });

  it('the retry attempts quoted in README and ARCHITECTURE are the policy’s', () => {
    expect(ARCHITECTURE).toContain(`at most ${DEFAULT_RETRY.maxAttempts} csv-task requests`);
    expect(README).toContain(`gave up after ${DEFAULT_RETRY.maxAttempts} attempts`);
  });
});
