import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import {
  expectNoStack,
  expectValidReport,
  readReport,
  RENEWAL_FLOW,
  ROOT,
  runCli,
  SAMPLES,
  tempDir,
} from './cli.js';

const TEST_FLOW = join(ROOT, 'test/fixtures/test-flow.json');

async function validateFile(content: string | Buffer, extra: string[] = [], flow = TEST_FLOW) {
  const dir = await tempDir();
  const input = join(dir, 'input.csv');
  await writeFile(input, content);
  const reportDir = join(dir, 'report');
  const run = await runCli([
    'validate',
    input,
    '--flow-config',
    flow,
    '--report-dir',
    reportDir,
    ...extra,
  ]);
  return { run, reportDir, dir };
}

describe('atomic-bulk validate (built CLI)', () => {
  it('accepts the sample campaign with exit 0 and a schema-valid report', async () => {
    const dir = await tempDir();
    const run = await runCli([
      'validate',
      join(SAMPLES, 'campaign.csv'),
      '--flow-config',
      RENEWAL_FLOW,
      '--report-dir',
      dir,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Success: all 300 rows are valid.');
    const report = readReport(dir);
    expect(report).toMatchObject({
      command: 'validate',
      outcome: 'success',
      exitCode: 0,
      rows: { total: 300, valid: 300, invalid: 0 },
    });
    expect(report.flow).toEqual({
      flowConfigId: 'renewal-reminder',
      version: 3,
      mode: null,
      source: 'file',
    });
    expect(existsSync(join(dir, 'rejected.csv'))).toBe(false);
  });

  it('rejects the sample with mistakes with exit 1, located issues and a rejected.csv to fix', async () => {
    const dir = await tempDir();
    const run = await runCli([
      'validate',
      join(SAMPLES, 'campaign-with-mistakes.csv'),
      '--flow-config',
      RENEWAL_FLOW,
      '--report-dir',
      dir,
    ]);
    expect(run.code).toBe(1);
    expectNoStack(run);
    const report = readReport(dir);
    expect(report.outcome).toBe('invalid');
    expect(report.issues.find((i) => i.code === 'unknown-card-option')).toMatchObject({
      line: 1,
      column: 'payload.cardOptions.expire',
      // The sample's column holds durations: the option meant is expiresInterval (issue 11).
      hint: "Did you mean payload.cardOptions.expiresInterval? Most of the column's values are ISO 8601 durations.",
    });
    expect(report.issues.find((i) => i.code === 'invalid-priority')).toMatchObject({
      line: 6,
      record: 5,
      column: 'payload.cardOptions.priority',
      columnIndex: 5,
    });
    const rejected: string[][] = parse(readFileSync(join(dir, 'rejected.csv')), {
      relax_column_count: true,
    });
    const header = rejected[0] as string[];
    expect(header.slice(-2)).toEqual(['_line', '_errors']);
    expect(rejected).toHaveLength(1 + report.rows.invalid);
    const lines = rejected.slice(1).map((r) => r[header.indexOf('_line')] ?? r.at(-2));
    expect(lines).toContain('6');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(
      /^# atomic-bulk validate: Invalid input/,
    );
  });

  it('accepts a fixed rejected.csv as it is (the _line and _errors columns are ignored)', async () => {
    const { reportDir } = await validateFile(
      'target.attributes.atomic___id,payload.variables.account,payload.variables.amount\nu1,a1,1\nu2,a2,"1,5"\n',
    );
    const rejected = readFileSync(join(reportDir, 'rejected.csv'), 'utf8');
    expect(rejected).toContain(',3,invalid-number (payload.variables.amount)');
    const again = await validateFile(rejected);
    expect(again.run.code).toBe(1);
    expect(readReport(again.reportDir).issues.map((i) => i.code)).toEqual(['invalid-number']);
    const fixed = await validateFile(rejected.replace('"1,5"', '1.5'));
    expect(fixed.run.code).toBe(0);
  });

  it('reads standard input with -', async () => {
    const dir = await tempDir();
    const run = await runCli(['validate', '-', '--flow-config', TEST_FLOW, '--report-dir', dir], {
      stdin: readFileSync(join(ROOT, 'test/fixtures/campaign-valid.csv')),
    });
    expect(run.code).toBe(0);
    expect(readReport(dir)).toMatchObject({ input: { source: '-' }, rows: { total: 3, valid: 3 } });
  });

  it('prints only the report JSON on stdout with --json', async () => {
    const dir = await tempDir();
    const run = await runCli([
      'validate',
      join(ROOT, 'test/fixtures/campaign-valid.csv'),
      '--flow-config',
      TEST_FLOW,
      '--report-dir',
      dir,
      '--json',
    ]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as unknown;
    expectValidReport(report);
    expect(report).toEqual(readReport(dir));
  });

  it('lists at most --max-issues issues and keeps every count', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `u${i},a${i},x`).join('\n');
    const { run, reportDir } = await validateFile(
      `target.attributes.atomic___id,payload.variables.account,payload.variables.amount\n${rows}\n`,
      ['--max-issues', '5'],
    );
    expect(run.code).toBe(1);
    const report = readReport(reportDir);
    expect(report.issues).toHaveLength(5);
    expect(report.issuesTruncated).toBe(true);
    expect(report.issueCounts).toMatchObject({ errors: 40, byCode: { 'invalid-number': 40 } });
  });

  it('writes NDJSON progress events to stderr with --progress json', async () => {
    const { run } = await validateFile(
      readFileSync(join(ROOT, 'test/fixtures/campaign-valid.csv')),
      ['--progress', 'json'],
    );
    const events = run.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toContain('phase');
    expect(events.map((e) => e.type)).toContain('read');
  });
});

describe('bad input gives a located issue or one line, the right exit code, never a stack trace', () => {
  it.each([
    ['an empty file', '', 'empty-file', 1],
    ['a header only', 'target.attributes.atomic___id,payload.variables.account\n', 'empty-file', 1],
    [
      'an unclosed quote at the end',
      'target.attributes.atomic___id,payload.variables.account\nu1,"a1\n',
      'malformed-csv',
      2,
    ],
    [
      'invalid UTF-8',
      Buffer.from('target.attributes.atomic___id,payload.variables.account\nu1,a\xff1\n', 'latin1'),
      'encoding-error',
      2,
    ],
  ])('%s', async (_name, content, code, line) => {
    const { run, reportDir } = await validateFile(content);
    expect(run.code).toBe(1);
    expectNoStack(run);
    const report = readReport(reportDir);
    expect(report.issues.find((i) => i.code === code)?.line).toBe(line);
  });

  it('binary garbage', async () => {
    let seed = 42;
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    const { run, reportDir } = await validateFile(bytes);
    expect(run.code).toBe(1);
    expectNoStack(run);
    const report = readReport(reportDir);
    expect(report.issueCounts.errors).toBeGreaterThan(0);
  });

  it('a 50 MB single field', async () => {
    const content = `target.attributes.atomic___id,payload.variables.account\nu1,a1\nu2,"${'x'.repeat(50 * 1024 * 1024)}"\nu3,a3\n`;
    const { run, reportDir } = await validateFile(content);
    expect(run.code).toBe(1);
    expectNoStack(run);
    const report = readReport(reportDir);
    expect(report.issues.map((i) => [i.code, i.line])).toEqual([['record-too-large', 3]]);
    expect(report.rows).toMatchObject({ total: 3, valid: 2, invalid: 1 });
    const rejected = readFileSync(join(reportDir, 'rejected.csv'), 'utf8');
    expect(rejected.length).toBeLessThan(1000);
  });

  it.each([
    [
      'a missing input file',
      ['validate', 'no-such.csv', '--flow-config', TEST_FLOW],
      /Input no-such\.csv does not exist/,
    ],
    [
      'no flow',
      ['validate', 'test/fixtures/campaign-valid.csv'],
      /--flow <flowConfigId> \(from the API\) or --flow-config/,
    ],
    [
      'a missing flow config',
      ['validate', 'test/fixtures/campaign-valid.csv', '--flow-config', 'nope.json'],
      /Cannot read flow config nope\.json/,
    ],
    [
      'a truncated flow config',
      [
        'validate',
        'test/fixtures/campaign-valid.csv',
        '--flow-config',
        'test/fixtures/flow-truncated.json',
      ],
      /is not valid JSON/,
    ],
    [
      'a flow config with a bad type',
      [
        'validate',
        'test/fixtures/campaign-valid.csv',
        '--flow-config',
        'test/fixtures/flow-bad-type.json',
      ],
      /variable "a" without a "type"/,
    ],
    [
      'an unknown flag',
      ['validate', 'test/fixtures/campaign-valid.csv', '--flow-config', TEST_FLOW, '--frobnicate'],
      /Unknown option: --frobnicate/,
    ],
    [
      'a bad number',
      [
        'validate',
        'test/fixtures/campaign-valid.csv',
        '--flow-config',
        TEST_FLOW,
        '--max-issues',
        '-1',
      ],
      /--max-issues must be a whole number/,
    ],
    // A directory is a multi-file input; one with folders in it is refused, not half read.
    [
      'a directory with folders as input',
      ['validate', 'test', '--flow-config', TEST_FLOW],
      /Input test holds a folder, .*; atomic-bulk reads the files of one folder, not below it\./,
    ],
  ])('%s is a usage error (exit 2)', async (_name, args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expectNoStack(run);
    expect(run.stdout).toBe('');
  });
});
