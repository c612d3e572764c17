/**
 * The CSV contract at its edges, through the built CLI (issue 17): a quoted empty id in a
 * row whose part fits the budget exactly, Excel's sep=, line on a real send, and headers
 * with invisible or look-alike names.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { readReport, runCli, sendArgs, tempDir, validateArgs } from './cli.js';

const HEADER =
  'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,flowInvocationId';

describe('the CSV contract at its edges', () => {
  it('sends a row written with a quoted empty id in a part of exactly --max-part-bytes', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, `${HEADER}\nu1,Ann,5,""\n`);
    // The part: the header, LF, "u1,Ann,5," + a 36-character id, LF.
    const exact = HEADER.length + 1 + 'u1,Ann,5,'.length + 36 + 1;
    for (const budget of [exact, exact + 1]) {
      const run = await runCli(
        validateArgs(input, join(dir, `v${budget}`), ['--max-part-bytes', String(budget)]),
      );
      expect(run.code, run.stderr).toBe(0);
    }
    const tooSmall = await runCli(
      validateArgs(input, join(dir, 'small'), ['--max-part-bytes', String(exact - 1)]),
    );
    expect(tooSmall.code).toBe(2);
    expect(tooSmall.stderr).toContain(`the header and its longest row need ${exact} bytes`);

    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const sent = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r'), [
        '--max-part-bytes',
        String(exact),
        '--keep-parts',
      ]),
      { env: sb.env },
    );
    expect(sent.code, sent.stderr).toBe(0);
    const report = readReport(join(dir, 'r'));
    expect(report.parts.map((p) => p.bytes)).toEqual([exact]);
  });

  it("sends a file that starts with Excel's sep=, line, with a warning and the right header", async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, `sep=,\n${HEADER}\nu1,Ann,5,\nu2,Bob,6,\n`);
    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const sent = await runCli(sendArgs(input, join(dir, 's'), join(dir, 'r')), { env: sb.env });
    expect(sent.code, sent.stderr).toBe(0);
    const report = readReport(join(dir, 'r'));
    expect(report.issues.map((i) => [i.code, i.line])).toEqual([['separator-line', 1]]);
    await sb.settle();
    expect(sb.invocations().map((i) => [i.target.atomic___id, i.variables.firstName])).toEqual([
      ['u1', 'Ann'],
      ['u2', 'Bob'],
    ]);
    const invocations = readFileSync(join(dir, 'r', 'invocations.csv'), 'utf8');
    expect(
      invocations
        .split('\n')
        .slice(1, 3)
        .map((l) => l.split(',')[0]),
    ).toEqual(['3', '4']);
  });

  it('refuses invisible and case-only look-alike headers with codes and code points', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(
      input,
      'target.attributes.atomic___id\u200b,payload.variables.firstName,target.attributes.Email,target.attributes.email\nu1,Ann,a,b\n',
    );
    const run = await runCli(validateArgs(input, join(dir, 'r')));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('U+200B ZERO WIDTH SPACE at character 30');
    const issues = readReport(join(dir, 'r')).issues;
    expect(issues.map((i) => i.code).sort()).toEqual(['ambiguous-header', 'invisible-character']);
    // Printed with the invisible character shown, never raw.
    expect(run.stderr).not.toContain('\u200b');
  });
});
