/**
 * Header names at the edges of what a person can see (issue 17): invisible characters
 * anywhere in a name, decomposed accents, names that differ only by case, and Excel's
 * `sep=` line.
 */
import { describe, expect, it } from 'vitest';
import { codes, expectIssue, validateCsv } from '../../test/validate-helpers.js';
import { describeCodePoint, findInvisible } from './header-text.js';

const TARGET = 'target.attributes.atomic___id';
const ACCOUNT = 'payload.variables.account';

describe('invisible characters in headers', () => {
  it.each([
    ['a zero-width space at the end', `${TARGET}\u200b`, 'U+200B ZERO WIDTH SPACE', 30],
    [
      'a doubled byte-order mark',
      `\ufeff${TARGET}`,
      'U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark)',
      1,
    ],
    ['a no-break space inside', 'target.attributes.\u00a0email', 'U+00A0 NO-BREAK SPACE', 19],
    [
      'a right-to-left override',
      `payload.metadata.\u202enote`,
      'U+202E RIGHT-TO-LEFT OVERRIDE',
      18,
    ],
    ['a word joiner', `payload.metadata.a\u2060b`, 'U+2060 WORD JOINER', 19],
    ['a thin space at the start', `\u2009payload.metadata.x`, 'U+2009 THIN SPACE', 1],
  ])(
    'reports %s by code point and position, never silently',
    async (_what, name, described, at) => {
      // The file's own byte-order mark is stripped (bom-stripped); a second one is in the name.
      const bom = name.startsWith('\ufeff') ? '\ufeff' : '';
      const first = name.startsWith('target') || bom !== '';
      const header = first ? `${name},${ACCOUNT}` : `${TARGET},${ACCOUNT},${name}`;
      const { issues } = await validateCsv(`${bom}${header}\nu1,a1${first ? '' : ',x'}\n`);
      const found = expectIssue(issues, {
        code: 'invisible-character',
        line: 1,
        severity: 'error',
      });
      expect(found.message).toContain(`${described} at character ${at}`);
      expect(codes(issues)).not.toContain('header-whitespace');
    },
  );

  it('counts further invisible characters and names the first', () => {
    expect(findInvisible('a\u200bb\u200cc')).toEqual({ codePoint: 0x200b, position: 2, count: 2 });
    expect(findInvisible('payload.variables.prénom')).toBeNull();
    expect(describeCodePoint(0x7)).toBe('U+0007 a control character');
    expect(describeCodePoint(0xe0001)).toBe('U+E0001');
  });

  it('still reports ASCII spaces around a name as header-whitespace', async () => {
    const { issues } = await validateCsv(`${TARGET},${ACCOUNT}, payload.metadata.x \nu1,a1,x\n`);
    expectIssue(issues, { code: 'header-whitespace', line: 1 });
    expect(codes(issues)).not.toContain('invisible-character');
  });
});

describe('look-alike headers', () => {
  it('reports names that differ only by letter case as ambiguous', async () => {
    const { issues } = await validateCsv(
      `${TARGET},${ACCOUNT},target.attributes.Email,target.attributes.email,payload.metadata.ID,payload.metadata.id\nu1,a1,x,y,1,2\n`,
    );
    const email = expectIssue(issues, {
      code: 'ambiguous-header',
      line: 1,
      column: 'target.attributes.email',
      severity: 'error',
    });
    expect(email.message).toBe(
      'Columns 3 (target.attributes.Email) and 4 (target.attributes.email) differ only by letter case: Atomic treats them as two different fields.',
    );
    expectIssue(issues, { code: 'ambiguous-header', line: 1, column: 'payload.metadata.id' });
  });

  it('reports a decomposed (NFD) name, which looks like its composed twin but is not', async () => {
    const nfd = 'payload.metadata.cafe\u0301';
    const { issues } = await validateCsv(
      `${TARGET},${ACCOUNT},payload.metadata.café,${nfd}\nu1,a1,x,y\n`,
    );
    const found = expectIssue(issues, {
      code: 'unnormalized-header',
      line: 1,
      column: nfd,
      severity: 'error',
    });
    expect(found.message).toContain('looks like "payload.metadata.café"');
    expect(codes(issues)).not.toContain('duplicate-header');
  });

  it('leaves exact duplicates to duplicate-header and distinct names alone', async () => {
    const { issues } = await validateCsv(
      `${TARGET},${ACCOUNT},payload.metadata.a,payload.metadata.a,payload.metadata.b\nu1,a1,x,y,z\n`,
    );
    expect(codes(issues)).toEqual(['duplicate-header']);
  });
});

describe("Excel's separator line", () => {
  it('skips sep=, with a warning and reads the next line as the header', async () => {
    const { issues, result } = await validateCsv(`sep=,\n${TARGET},${ACCOUNT}\nu1,a1\n`);
    expect(codes(issues)).toEqual(['separator-line']);
    expectIssue(issues, { code: 'separator-line', line: 1, severity: 'warning' });
    expect(result.header).toEqual([TARGET, ACCOUNT]);
    expect(result.rows).toMatchObject({ total: 1, valid: 1 });
  });

  it('names sep=; in the semicolon-export hint', async () => {
    const { issues } = await validateCsv(`sep=;\n${TARGET};${ACCOUNT}\nu1;a1\n`);
    expectIssue(issues, { code: 'separator-line', line: 1 });
    const malformed = expectIssue(issues, { code: 'malformed-csv', line: 2 });
    expect(malformed.message).toContain('semicolon-separated');
    expect(malformed.hint).toContain(
      'Its first line, sep=;, is the separator line Excel writes for a semicolon-separated export.',
    );
  });

  it('treats sep= only as the first line', async () => {
    const { issues } = await validateCsv(`${TARGET},${ACCOUNT}\nsep=;\n`);
    expect(codes(issues)).not.toContain('separator-line');
  });
});
