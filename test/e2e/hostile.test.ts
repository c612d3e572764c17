/**
 * The hostile-input corpus: every malformed shape a spreadsheet export, a broken pipe or
 * a careless script can produce, plus broken flow configs and odd paths. Each case must
 * end in a located issue or a one-line error, with the right exit code, no stack trace,
 * and (when a report is written) a schema-valid report whose counts add up.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { IssueCode } from '../../src/model/issue.js';
import { expectNoStack, readReport, ROOT, runCli, tempDir } from './cli.js';

const H = 'target.attributes.atomic___id,payload.variables.account';
const FLOW = join(ROOT, 'test/fixtures/test-flow.json');

interface Case {
  name: string;
  /** The input file's bytes (written to in.csv). */
  input?: Buffer | string | (() => Buffer | string);
  /** Flow config file content, instead of the fixture. */
  flow?: string;
  /** Arguments; {in}, {flow}, {dir} are replaced. Default: validate. */
  args?: string[];
  code: number;
  /** An issue that must be reported (at this line, when given). */
  issue?: { code: IssueCode; line?: number };
  /** A pattern the one-line error must match (usage errors). */
  error?: RegExp;
}

const utf16 = (text: string, be = false) => {
  const le = Buffer.from(text, 'utf16le');
  if (!be) return Buffer.concat([Buffer.from([0xff, 0xfe]), le]);
  const swapped = Buffer.from(le);
  swapped.swap16();
  return Buffer.concat([Buffer.from([0xfe, 0xff]), swapped]);
};

const CASES: Case[] = [
  { name: 'an empty file', input: '', code: 1, issue: { code: 'empty-file', line: 1 } },
  { name: 'a header only', input: `${H}\n`, code: 1, issue: { code: 'empty-file', line: 1 } },
  { name: 'only blank lines', input: '\n\n\r\n\n', code: 1, issue: { code: 'empty-file' } },
  {
    name: 'a byte-order mark and nothing else',
    input: '\ufeff',
    code: 1,
    issue: { code: 'empty-file' },
  },
  { name: 'a lone double quote', input: '"', code: 1, issue: { code: 'malformed-csv', line: 1 } },
  {
    name: 'an unclosed quote at the end',
    input: `${H}\nu1,a1\nu2,"a2`,
    code: 1,
    issue: { code: 'malformed-csv', line: 3 },
  },
  {
    name: 'an unclosed quote swallowing the rest of the file',
    input: `${H}\nu1,"a1\nu2,a2\nu3,a3\n`,
    code: 1,
    issue: { code: 'malformed-csv', line: 2 },
  },
  {
    name: 'a stray quote inside a field',
    input: `${H}\nu1,a"1\n`,
    code: 1,
    issue: { code: 'malformed-csv', line: 2 },
  },
  {
    name: 'text after a closing quote',
    input: `${H}\n"u1"x,a1\n`,
    code: 1,
    issue: { code: 'malformed-csv', line: 2 },
  },
  {
    name: 'a row with extra fields',
    input: `${H}\nu1,a1,extra\n`,
    code: 1,
    issue: { code: 'field-count', line: 2 },
  },
  {
    name: 'a row with missing fields',
    input: `${H}\nu1\n`,
    code: 1,
    issue: { code: 'field-count', line: 2 },
  },
  {
    name: 'an unquoted comma in a value',
    input: `${H}\nu1,Smith, Jane\n`,
    code: 1,
    issue: { code: 'field-count', line: 2 },
  },
  {
    name: 'NUL bytes in a cell',
    input: `${H}\nu1,a\u0000\u00001\n`,
    code: 1,
    issue: { code: 'encoding-error', line: 2 },
  },
  {
    name: 'Windows-1252 text (invalid UTF-8)',
    input: Buffer.from(`${H}\nu1,Caf\xe9\n`, 'latin1'),
    code: 1,
    issue: { code: 'encoding-error', line: 2 },
  },
  {
    name: 'an overlong UTF-8 encoding',
    input: Buffer.concat([Buffer.from(`${H}\nu1,a`), Buffer.from([0xc0, 0xaf]), Buffer.from('\n')]),
    code: 1,
    issue: { code: 'encoding-error', line: 2 },
  },
  {
    name: 'an encoded UTF-16 surrogate',
    input: Buffer.concat([
      Buffer.from(`${H}\nu1,a`),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('\n'),
    ]),
    code: 1,
    issue: { code: 'encoding-error', line: 2 },
  },
  {
    name: 'a multi-byte character cut at the end of the file',
    input: Buffer.concat([Buffer.from(`${H}\nu1,a`), Buffer.from([0xe2, 0x82])]),
    code: 1,
    issue: { code: 'encoding-error', line: 2 },
  },
  {
    name: 'UTF-16LE with a byte-order mark',
    input: utf16(`${H}\nu1,a1\n`),
    code: 1,
    issue: { code: 'encoding-error', line: 1 },
  },
  {
    name: 'UTF-16BE with a byte-order mark',
    input: utf16(`${H}\nu1,a1\n`, true),
    code: 1,
    issue: { code: 'encoding-error', line: 1 },
  },
  {
    name: 'UTF-16 without a byte-order mark',
    input: Buffer.from(`${H}\nu1,a1\n`, 'utf16le'),
    code: 1,
    issue: { code: 'encoding-error', line: 1 },
  },
  { name: 'lone CR line endings (old Mac exports)', input: `${H}\ru1,a1\ru2,a2\r`, code: 0 },
  { name: 'mixed LF, CRLF and CR line endings', input: `${H}\r\nu1,a1\nu2,a2\ru3,a3\r\n`, code: 0 },
  {
    name: 'line breaks inside quoted values',
    input: `${H},payload.variables.name\nu1,a1,"two\r\nlines"\n`,
    code: 0,
  },
  {
    name: 'formula-looking cells (accepted as text, never evaluated)',
    input: `${H},payload.variables.name\nu1,a1,"=HYPERLINK(""http://x"")"\nu2,a2,+1+1\nu3,a3,@SUM(A1)\nu4,a4,-2\n`,
    code: 0,
  },
  {
    name: 'formula-looking cells in a number column',
    input: `${H},payload.variables.amount\nu1,a1,=1+2\n`,
    code: 1,
    issue: { code: 'invalid-number', line: 2 },
  },
  {
    name: 'a 100 MB field',
    input: () => `${H}\nu1,a1\nu2,"${'x'.repeat(100 * 1024 * 1024)}"\nu3,a3\n`,
    code: 1,
    issue: { code: 'record-too-large', line: 3 },
  },
  {
    name: '10,000 columns',
    input: () =>
      `${H},${Array.from({ length: 10_000 }, (_, i) => `payload.metadata.m${i}`).join(',')}\nu1,a1,${new Array<string>(10_000).fill('v').join(',')}\n`,
    code: 0,
  },
  {
    name: '10,000 unknown columns',
    input: () =>
      `${H},${Array.from({ length: 10_000 }, (_, i) => `col${i}`).join(',')}\nu1,a1${',v'.repeat(10_000)}\n`,
    code: 1,
    issue: { code: 'unknown-column', line: 1 },
  },
  {
    name: 'a 1 MB header name',
    input: () => `${H},payload.metadata.${'n'.repeat(1024 * 1024)}\nu1,a1,v\n`,
    code: 0,
  },
  {
    name: 'a header longer than the part budget',
    input: () => `${H},payload.metadata.${'n'.repeat(2000)}\nu1,a1,v\n`,
    args: [
      'validate',
      '{in}',
      '--flow-config',
      '{flow}',
      '--report-dir',
      '{dir}',
      '--max-part-bytes',
      '1000',
    ],
    code: 2,
    error:
      /--max-part-bytes 1,000 is too small for this file: the header and its longest row need 2,\d{3} bytes/,
  },
  {
    name: 'a part budget smaller than the longest row',
    input: `${H}\nu1,a1\nu2,${'x'.repeat(500)}\n`,
    args: [
      'send',
      '{in}',
      '--flow',
      'f',
      '--flow-config',
      '{flow}',
      '--report-dir',
      '{dir}',
      '--dry-run',
      '--max-part-bytes',
      '200',
    ],
    code: 2,
    error: /the header and its longest row need \d{3} bytes/,
  },
  {
    name: 'a 1,000,000-column header',
    input: () => `${Array.from({ length: 1_000_000 }, (_, k) => `c${k}`).join(',')}\n`,
    code: 1,
    issue: { code: 'too-many-columns', line: 1 },
  },
  {
    name: 'duplicate headers',
    input: `${H},${H}\nu1,a1,u1,a1\n`,
    code: 1,
    issue: { code: 'duplicate-header', line: 1 },
  },
  {
    name: 'a blank header name',
    input: `${H},\nu1,a1,\n`,
    code: 1,
    issue: { code: 'blank-header', line: 1 },
  },
  {
    name: 'a header made of commas',
    input: ',,,\n1,2,3,4\n',
    code: 1,
    issue: { code: 'blank-header', line: 1 },
  },
  {
    name: 'a space-padded header',
    input: `${H}, payload.variables.name\nu1,a1,x\n`,
    code: 1,
    issue: { code: 'header-whitespace', line: 1 },
  },
  {
    name: 'a tab-separated file',
    input: 'target.attributes.atomic___id\tpayload.variables.account\nu1\ta1\n',
    code: 1,
    issue: { code: 'malformed-csv', line: 1 },
  },
  {
    name: 'a semicolon-separated file',
    input: 'target.attributes.atomic___id;payload.variables.account\nu1;a1\n',
    code: 1,
    issue: { code: 'malformed-csv', line: 1 },
  },
  {
    // Read since issue 15: gzip is recognised by its bytes and inflated.
    name: 'a gzip-compressed CSV',
    input: () => gzipSync(`${H}\nu1,a1\n`),
    code: 0,
  },
  {
    name: 'a truncated gzip stream',
    input: () => gzipSync(`${H}\n${'u1,a1\n'.repeat(5000)}`).subarray(0, 60),
    code: 2,
    error: /is not a valid gzip stream: it ends early/,
  },
  {
    name: 'a zstd-compressed file',
    input: () => Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]),
    code: 2,
    error: /is compressed with zstd/,
  },
  {
    name: 'binary garbage',
    input: () => Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) >>> 24)),
    code: 1,
  },
  {
    name: 'a PNG image',
    input: () =>
      Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        Buffer.alloc(1000, 7),
      ]),
    code: 1,
  },
  {
    name: 'an empty target field name',
    input: 'target.attributes.,payload.variables.account\nu1,a1\n',
    code: 1,
    issue: { code: 'unknown-column', line: 1 },
  },
  {
    name: 'a million blank lines after the data',
    input: () => `${H}\nu1,a1\n${'\n'.repeat(1_000_000)}`,
    code: 0,
  },
  {
    name: 'split: a broken record under abort',
    input: `a,b\n1,"2\n`,
    args: ['split', '{in}', '--out-dir', '{dir}/parts', '--report-dir', '{dir}'],
    code: 1,
    issue: { code: 'malformed-csv', line: 2 },
  },
  {
    name: 'send --dry-run: an invalid row under skip',
    input: `${H},payload.variables.amount\nu1,a1,1\nu2,a2,x\n`,
    args: [
      'send',
      '{in}',
      '--flow',
      'f',
      '--flow-config',
      '{flow}',
      '--dry-run',
      '--on-invalid',
      'skip',
      '--report-dir',
      '{dir}',
      '--state-dir',
      '{dir}/state',
    ],
    code: 4,
    issue: { code: 'invalid-number', line: 3 },
  },
  {
    name: 'a report dir that looks like path traversal',
    input: `${H}\nu1,a1\n`,
    args: [
      'validate',
      '{in}',
      '--flow-config',
      '{flow}',
      '--report-dir',
      '{dir}/a/../b/./../../c/../d',
    ],
    code: 0,
  },
  {
    name: 'a report dir that is an existing file',
    input: `${H}\nu1,a1\n`,
    args: ['validate', '{in}', '--flow-config', '{flow}', '--report-dir', '{in}'],
    code: 2,
    error: /Cannot create report directory/,
  },
  {
    name: 'a run id that looks like path traversal',
    input: `${H}\nu1,a1\n`,
    args: [
      'send',
      '{in}',
      '--flow',
      'f',
      '--flow-config',
      '{flow}',
      '--dry-run',
      '--run-id',
      '../../../escaped',
      '--report-dir',
      '{dir}',
      '--state-dir',
      '{dir}/state',
    ],
    code: 0,
  },
  {
    // A directory is a multi-file input: here the CSV and the flow file, whose headers differ.
    name: 'an input that is a directory of unlike files',
    args: ['validate', '{dir}', '--flow-config', '{flow}'],
    code: 2,
    error: /has a different header from|holds a folder/,
  },
  {
    name: 'an input that does not exist',
    args: ['validate', '{dir}/nope.csv', '--flow-config', '{flow}'],
    code: 2,
    error: /does not exist/,
  },
  {
    name: 'a part budget of zero',
    input: `${H}\nu1,a1\n`,
    args: ['validate', '{in}', '--flow-config', '{flow}', '--max-part-bytes', '0'],
    code: 2,
    error: /--max-part-bytes must be a whole number/,
  },
  {
    name: 'a flow config that is not JSON',
    flow: 'variables: {}',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /is not valid JSON/,
  },
  {
    name: 'an empty flow config file',
    flow: '',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /is not valid JSON/,
  },
  {
    name: 'a flow config that is a JSON array',
    flow: '[1,2]',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /is not a JSON object/,
  },
  {
    name: 'a flow config without variables',
    flow: '{"data":{"config":{}}}',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /has no "variables"/,
  },
  {
    name: 'a flow config whose variable has no type',
    flow: '{"variables":{"a":{}}}',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /variable "a" without a "type"/,
  },
  {
    name: 'a flow config whose "required" is not boolean',
    flow: '{"variables":{"a":{"type":"string","required":"yes"}}}',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /"required" is not true or false/,
  },
  {
    name: 'a flow config with a space-padded variable name',
    flow: '{"variables":{" a":{"type":"string"}}}',
    input: `${H}\nu1,a1\n`,
    code: 2,
    error: /empty or space-padded name/,
  },
];

describe('hostile inputs', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('$name → exit $code', async (c) => {
    const dir = await tempDir('atomic-bulk-hostile-');
    const input = join(dir, 'in.csv');
    if (c.input !== undefined)
      await writeFile(input, typeof c.input === 'function' ? c.input() : c.input);
    let flow = FLOW;
    if (c.flow !== undefined) {
      flow = join(dir, 'flow.json');
      await writeFile(flow, c.flow);
    }
    const reportDir = join(dir, 'report');
    await mkdir(reportDir, { recursive: true });
    const args = (
      c.args ?? ['validate', '{in}', '--flow-config', '{flow}', '--report-dir', '{dir}']
    ).map((a) =>
      a
        .replaceAll('{in}', input)
        .replaceAll('{flow}', flow)
        .replaceAll('{dir}', c.args ? dir : reportDir),
    );
    const run = await runCli(args, { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(c.code);
    expectNoStack(run);
    if (c.code === 2) {
      expect(run.stderr).toMatch(c.error ?? /./);
      expect(run.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
      return;
    }
    const where = c.args
      ? args.includes('--report-dir')
        ? (args[args.indexOf('--report-dir') + 1] as string)
        : dir
      : reportDir;
    const report = readReport(where);
    expect(report.exitCode).toBe(c.code);
    for (const i of report.issues) expect(i.line).toBeGreaterThanOrEqual(1);
    if (c.issue !== undefined) {
      const found = report.issues.find(
        (i) => i.code === c.issue?.code && (c.issue.line === undefined || i.line === c.issue.line),
      );
      expect(found, JSON.stringify(report.issues.slice(0, 5))).toBeDefined();
    }
    if (c.code !== 0) expect(report.issueCounts.errors).toBeGreaterThan(0);
  });

  it('keeps a path-traversal run id inside the state directory', async () => {
    const dir = await tempDir('atomic-bulk-hostile-');
    await writeFile(join(dir, 'in.csv'), `${H}\nu1,a1\n`);
    const run = await runCli([
      'send',
      join(dir, 'in.csv'),
      '--flow',
      '../f',
      '--flow-config',
      FLOW,
      '--dry-run',
      '--keep-parts',
      '--run-id',
      '../../../escaped',
      '--report-dir',
      join(dir, 'r'),
      '--state-dir',
      join(dir, 'state'),
    ]);
    expect(run.code).toBe(0);
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
    expect(await readdir(join(dir, 'state', 'dry-runs'))).toHaveLength(1);
  });
});
