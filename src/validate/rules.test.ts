/**
 * The rule catalogue held to the code: every issue code has an entry, the module it names
 * really checks that code, and the README's table says the same (severity, level, meaning).
 * The schema's enums are held to the same codes in model/issue.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISSUE_CODES, type IssueCode } from '../model/issue.js';
import { RULES } from './rules.js';

const root = join(import.meta.dirname, '../..');

describe('the rule catalogue', () => {
  it('has one entry for every issue code, and no other', () => {
    expect(Object.keys(RULES).sort()).toEqual(Object.keys(ISSUE_CODES).sort());
  });

  it('names, for each code, a module that checks it', () => {
    for (const [code, rule] of Object.entries(RULES)) {
      const source = readFileSync(join(root, 'src/validate', rule.checkedIn), 'utf8');
      expect(source.includes(`'${code}'`), `${rule.checkedIn} should check ${code}`).toBe(true);
    }
  });

  it('is the README’s table of issue codes, row for row', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| `[a-z-]+` \| (error|warning) \|/.test(l));
    const expected = (Object.entries(RULES) as [IssueCode, (typeof RULES)[IssueCode]][]).map(
      ([code, r]) =>
        `| \`${code}\` | ${ISSUE_CODES[code]} | ${r.level} | ${r.summary.replaceAll('|', '\\|')} |`,
    );
    expect(rows).toEqual(expected);
  });
});
