import { describe, expect, it } from 'vitest';
import { parseFlowConfig } from '../model/flow.js';
import { ISSUE_CODES } from '../model/issue.js';
import { codes, csvWith, expectIssue, validateCsv } from '../../test/validate-helpers.js';

const ID = 'target.attributes.atomic___id';
const ACC = 'payload.variables.account';

describe('file-level rules', () => {
  it('strips a UTF-8 byte-order mark with a warning', async () => {
    const { issues, result } = await validateCsv(`\ufeff${csvWith([], [])}`);
    expectIssue(issues, { code: 'bom-stripped', line: 1, column: null, severity: 'warning' });
    expect(result.rows.valid).toBe(1);
  });

  it('reports a UTF-16 file once, at line 1, and reads no rows', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(csvWith([], []), 'utf16le'),
    ]);
    const { issues, result } = await validateCsv(bytes);
    expect(codes(issues)).toEqual(['encoding-error']);
    expectIssue(issues, { code: 'encoding-error', line: 1, column: null });
    expect(result.rows.total).toBe(0);
  });

  it('locates invalid UTF-8 to its line and column', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${ID},${ACC},payload.variables.name\nu1,a1,ok\nu2,a2,caf`),
      Buffer.from([0xe9]),
      Buffer.from('\n'),
    ]);
    const { issues, result } = await validateCsv(bytes);
    expectIssue(issues, { code: 'encoding-error', line: 3, column: 'payload.variables.name' });
    expect(result.rows).toMatchObject({ total: 2, valid: 1, invalid: 1 });
  });

  it('treats a NUL byte as an encoding error', async () => {
    const { issues } = await validateCsv(`${ID},${ACC}\nu1,a\u00001\n`);
    expectIssue(issues, { code: 'encoding-error', line: 2, column: ACC });
  });

  it.each([
    ['an empty file', ''],
    ['a file of blank lines', '\n\n'],
    ['a header with no rows', `${ID},${ACC}\n`],
  ])('reports %s as empty-file', async (_name, csv) => {
    const { issues, result } = await validateCsv(csv);
    expect(issues.filter((i) => i.code === 'empty-file')).toHaveLength(1);
    expect(result.rows.total).toBe(0);
  });

  it('reports a stray quote as malformed-csv at its line and column', async () => {
    const { issues } = await validateCsv(`${ID},${ACC}\nu1,a"1\n`);
    expectIssue(issues, { code: 'malformed-csv', line: 2, column: ACC });
  });

  it('reports an unclosed quote at the line where the field began', async () => {
    const { issues, result } = await validateCsv(`${ID},${ACC}\nu1,a1\nu2,"open\nu3,a3\n`);
    expectIssue(issues, { code: 'malformed-csv', line: 3, column: ACC });
    expect(result.rows).toMatchObject({ total: 2, invalid: 1 });
  });

  it('reports a row with the wrong number of fields', async () => {
    const { issues } = await validateCsv(`${ID},${ACC}\nu1,a1,extra\nu2\n`);
    expectIssue(issues, { code: 'field-count', line: 2, column: null });
    expectIssue(issues, { code: 'field-count', line: 3, column: null });
  });

  it('skips blank lines with a warning and keeps counting physical lines', async () => {
    const { issues, result } = await validateCsv(`${ID},${ACC}\nu1,a1\n\r\nu2,a2\n`);
    expectIssue(issues, { code: 'blank-row', line: 3, severity: 'warning' });
    expect(result.rows).toMatchObject({ total: 2, valid: 2, blank: 1 });
  });

  it('reports a row that cannot fit in a part with the header', async () => {
    const csv = `${ID},${ACC}\nu1,a1\nu2,${'x'.repeat(200)}\n`;
    const { issues, result } = await validateCsv(csv, { maxPartBytes: 150 });
    expectIssue(issues, { code: 'record-too-large', line: 3 });
    expect(result.rows).toMatchObject({ valid: 1, invalid: 1 });
  });

  it('counts the flowInvocationId the send pipeline will add against the part budget', async () => {
    const header = `${ID},${ACC}`;
    const row = 'u1,a1';
    // header + LF + ",flowInvocationId" and row + LF + ",<uuid>" must fit.
    const exact = header.length + 1 + 17 + row.length + 1 + 37;
    expect((await validateCsv(`${header}\n${row}\n`, { maxPartBytes: exact })).log.errors).toBe(0);
    const tight = await validateCsv(`${header}\n${row}\n`, { maxPartBytes: exact - 1 });
    expectIssue(tight.issues, { code: 'record-too-large', line: 2 });
  });
});

describe('header rules', () => {
  it.each([
    ['blank-header', `${ID},${ACC},\n`, ''],
    ['header-whitespace', `${ID},${ACC}, payload.variables.name\n`, ' payload.variables.name'],
    ['duplicate-header', `${ID},${ACC},${ACC}\n`, ACC],
    ['unknown-column', `${ID},${ACC},payload.metadta.campaign\n`, 'payload.metadta.campaign'],
    [
      'unknown-card-option',
      `${ID},${ACC},payload.cardOptions.priorty\n`,
      'payload.cardOptions.priorty',
    ],
    ['unknown-variable', `${ID},${ACC},payload.variables.amout\n`, 'payload.variables.amout'],
    [
      'unknown-variable-type',
      `${ID},${ACC},payload.variables.region\n`,
      'payload.variables.region',
    ],
  ] as const)('%s is reported on the header line with its column', async (code, header, column) => {
    const width = header.trim().split(',').length;
    const row = ['u1', 'a1', ...new Array<string>(width - 2).fill('x')].join(',');
    const { issues, result } = await validateCsv(`${header}${row}\n`);
    const found = expectIssue(issues, { code, line: 1, column, severity: ISSUE_CODES[code] });
    expect(found.record).toBe(0);
    expect(found.hint).not.toBe('');
    if (ISSUE_CODES[code] === 'error') expect(result.fileErrors).toBeGreaterThan(0);
  });

  it.each([
    ['payload.metadta.campaign', 'payload.metadata.campaign'],
    ['payload.Variables.amount', 'payload.variables.amount'],
    ['target.attribute.atomic___id', 'target.attributes.atomic___id'],
    ['flowinvocationid', 'flowInvocationId'],
    ['payload.cardOptions.priorty', 'payload.cardOptions.priority'],
    ['payload.variables.amout', 'payload.variables.amount'],
  ])('suggests %s → %s', async (wrong, right) => {
    const { issues } = await validateCsv(`${ID},${ACC},${wrong}\nu1,a1,x\n`);
    const found = issues.find((i) => i.column === wrong);
    expect(found?.hint).toBe(`Did you mean ${right}?`);
  });

  it('downgrades unknown variables to warnings with allowUnknownVariables', async () => {
    const { issues, result } = await validateCsv(
      `${ID},${ACC},payload.variables.extra\nu1,a1,x\n`,
      {
        allowUnknownVariables: true,
      },
    );
    expectIssue(issues, { code: 'unknown-variable', line: 1, severity: 'warning' });
    expect(result.fileErrors).toBe(0);
  });

  it.each([
    ['tab', '\t'],
    ['semicolon', ';'],
  ])('recognises a %s-separated file from its header', async (_name, sep) => {
    const { issues } = await validateCsv(`${ID}${sep}${ACC}\nu1${sep}a1\n`);
    const found = expectIssue(issues, { code: 'malformed-csv', line: 1, column: null });
    expect(found.hint).toMatch(/commas/);
    expect(issues).toHaveLength(1);
  });

  it('reports a required variable with no column', async () => {
    const { issues } = await validateCsv(`${ID}\nu1\n`);
    expectIssue(issues, { code: 'missing-required-variable', line: 1, column: ACC });
  });

  it('reports a file with no target column', async () => {
    const { issues } = await validateCsv(`${ACC}\na1\n`);
    expectIssue(issues, { code: 'missing-target-column', line: 1, column: null });
  });

  it('accepts the _line and _errors columns of a rejected.csv at the end of the header', async () => {
    const { issues } = await validateCsv(
      `${ID},${ACC},_line,_errors\nu1,a1,7,"invalid-number (x)"\n`,
    );
    expect(issues).toEqual([]);
  });

  it('rejects _line anywhere but at the end', async () => {
    const { issues } = await validateCsv(`${ID},_line,${ACC}\nu1,7,a1\n`);
    expectIssue(issues, { code: 'unknown-column', line: 1, column: '_line' });
  });
});

describe('cell rules', () => {
  it.each([
    ['required-value-missing', [], [], ACC, ''],
    ['invalid-number', ['payload.variables.amount'], ['"1,000"'], 'payload.variables.amount', null],
    ['invalid-number', ['payload.variables.amount'], ['12a'], 'payload.variables.amount', null],
    ['invalid-date', ['payload.variables.due'], ['2026-02-30'], 'payload.variables.due', null],
    ['invalid-date', ['payload.variables.due'], ['31/12/2026'], 'payload.variables.due', null],
    ['invalid-boolean', ['payload.variables.vip'], ['TRUE'], 'payload.variables.vip', null],
    [
      'invalid-priority',
      ['payload.cardOptions.priority'],
      ['11'],
      'payload.cardOptions.priority',
      null,
    ],
    [
      'invalid-priority',
      ['payload.cardOptions.priority'],
      ['1.5'],
      'payload.cardOptions.priority',
      null,
    ],
    [
      'invalid-timestamp',
      ['payload.cardOptions.expires'],
      ['2026-12-01T10:00'],
      'payload.cardOptions.expires',
      null,
    ],
    [
      'invalid-timestamp',
      ['payload.cardOptions.embargo'],
      ['2026-12-01'],
      'payload.cardOptions.embargo',
      null,
    ],
    [
      'invalid-duration',
      ['payload.cardOptions.expiresInterval'],
      ['P0D'],
      'payload.cardOptions.expiresInterval',
      null,
    ],
    [
      'invalid-duration',
      ['payload.cardOptions.expiresInterval'],
      ['30M'],
      'payload.cardOptions.expiresInterval',
      null,
    ],
    [
      'invalid-platform',
      ['payload.cardOptions.targetPlatforms'],
      ['ios'],
      'payload.cardOptions.targetPlatforms',
      null,
    ],
    [
      'invalid-platform',
      ['payload.cardOptions.targetPlatforms'],
      ['Web|Web'],
      'payload.cardOptions.targetPlatforms',
      null,
    ],
    [
      'invalid-stream-ids',
      ['payload.cardOptions.targetStreamIds'],
      ['a||b'],
      'payload.cardOptions.targetStreamIds',
      null,
    ],
    [
      'expires-in-past',
      ['payload.cardOptions.expires'],
      ['2020-01-01T00:00:00Z'],
      'payload.cardOptions.expires',
      null,
    ],
  ] as const)('%s at line 2 in its column', async (code, columns, cells, column, account) => {
    let csv = csvWith([...columns], [...cells]);
    if (account === '') csv = csv.replace('acc-1', '');
    const { issues, result } = await validateCsv(csv);
    expectIssue(issues, { code, line: 2, column, severity: ISSUE_CODES[code] });
    expect(result.rows.invalid).toBe(ISSUE_CODES[code] === 'error' ? 1 : 0);
  });

  it('reports embargo not before expires', async () => {
    const csv = csvWith(
      ['payload.cardOptions.expires', 'payload.cardOptions.embargo'],
      ['2027-01-01T00:00:00Z', '2027-01-01T01:00:00+00:00'],
    );
    const { issues } = await validateCsv(csv);
    expectIssue(issues, {
      code: 'embargo-after-expires',
      line: 2,
      column: 'payload.cardOptions.embargo',
    });
  });

  it('compares embargo and expires as instants across zones', async () => {
    const csv = csvWith(
      ['payload.cardOptions.expires', 'payload.cardOptions.embargo'],
      ['2027-01-01T10:00:00+10:00', '2026-12-31T23:00:00Z'],
    );
    expect((await validateCsv(csv)).issues).toEqual([]);
  });

  it('reports a row whose target cells are all empty', async () => {
    const { issues } = await validateCsv(`${ID},target.attributes.email,${ACC}\n,,a1\n`);
    expectIssue(issues, { code: 'empty-target', line: 2, column: null });
  });

  it('reports a target value with surrounding spaces', async () => {
    const { issues } = await validateCsv(`${ID},${ACC}\n" u1",a1\n`);
    expectIssue(issues, { code: 'target-whitespace', line: 2, column: ID });
  });

  it('reports a repeated flowInvocationId at the later line, naming the first', async () => {
    const { issues, result } = await validateCsv(
      `${ID},${ACC},flowInvocationId\nu1,a1,id-1\nu2,a2,id-2\nu3,a3,id-1\n`,
    );
    const found = expectIssue(issues, {
      code: 'duplicate-invocation-id',
      line: 4,
      column: 'flowInvocationId',
    });
    expect(found.message).toContain('line 2');
    expect(result.rows).toMatchObject({ valid: 2, invalid: 1 });
    expect(result.duplicateIds.has(3)).toBe(true);
  });

  it('warns about a repeated target tuple, naming the earlier line', async () => {
    const { issues, result } = await validateCsv(`${ID},${ACC}\nu1,a1\nu2,a2\nu1,a3\n`);
    const found = expectIssue(issues, { code: 'duplicate-target', line: 4, severity: 'warning' });
    expect(found.message).toContain('line 2');
    expect(result.rows.invalid).toBe(0);
  });

  it('finds duplicates across several spills to disk, naming the first line', async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => `u${i},a${i},id-${i % 20_000}`);
    const csv = `${ID},${ACC},flowInvocationId\n${rows.join('\n')}\n`;
    const cuts = Array.from({ length: 40 }, (_, k) => Math.floor(((k + 1) * csv.length) / 41));
    const { log, result, issues } = await validateCsv(csv, { duplicateMemoryBytes: 4096, cuts });
    expect(log.byCode.get('duplicate-invocation-id')).toBe(10_000);
    expect(result.rows.invalid).toBe(10_000);
    // Row 20,001 (line 20,002) repeats row 1's id (line 2).
    expect(issues.find((i) => i.line === 20_002)?.message).toContain('line 2;');
  });

  it('reports every problem in a row, not only the first', async () => {
    const csv = csvWith(
      ['payload.variables.amount', 'payload.variables.vip', 'payload.cardOptions.priority'],
      ['x', 'yes', '0'],
    );
    const { issues } = await validateCsv(csv.replace('acc-1', ''));
    expect(codes(issues).sort()).toEqual([
      'invalid-boolean',
      'invalid-number',
      'invalid-priority',
      'required-value-missing',
    ]);
  });

  it('never puts a cell value in a message or hint', async () => {
    const secret = 'Zq9SECRETVALUE';
    const csv = csvWith(
      [
        'payload.variables.amount',
        'payload.variables.due',
        'payload.variables.vip',
        'payload.cardOptions.priority',
        'payload.cardOptions.targetPlatforms',
        'payload.cardOptions.expiresInterval',
      ],
      [secret, secret, secret, secret, secret, secret],
    ).replace('user-1', ` ${secret}`);
    const { issues } = await validateCsv(csv);
    expect(issues.length).toBeGreaterThanOrEqual(7);
    for (const i of issues) {
      expect(i.message).not.toContain(secret);
      expect(i.hint).not.toContain(secret);
    }
  });

  it('keeps all counts when the listed issues are capped', async () => {
    const rows = Array.from({ length: 50 }, () => ['bad']);
    const { log } = await validateCsv(csvWith(['payload.variables.amount'], ...rows), {
      maxIssues: 10,
    });
    expect(log.list()).toHaveLength(10);
    expect(log.byCode.get('invalid-number')).toBe(50);
    expect(log.list().map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe('enum variables', () => {
  const flow = parseFlowConfig(
    {
      variables: {
        account: { type: 'string', required: true },
        region: { type: 'enum', values: ['AU', 'NZ'] },
        tier: { type: 'enum' },
      },
    },
    'enum',
  );

  it('accepts the listed values exactly and reports others at their line and column', async () => {
    const { issues, result } = await validateCsv(
      `${ID},${ACC},payload.variables.region\nu1,a1,AU\nu2,a2,au\nu3,a3,\nu4,a4,US\n`,
      { flow },
    );
    expectIssue(issues, { code: 'invalid-enum', line: 3, column: 'payload.variables.region' });
    expectIssue(issues, { code: 'invalid-enum', line: 5, column: 'payload.variables.region' });
    expect(result.rows).toMatchObject({ valid: 2, invalid: 2 });
    expect(issues.find((i) => i.code === 'invalid-enum')?.message).toContain(
      'is not one of AU, NZ',
    );
  });

  it('warns once for an enum whose config lists no values, and accepts its cells as text', async () => {
    const { issues, result } = await validateCsv(
      `${ID},${ACC},payload.variables.tier\nu1,a1,gold\n`,
      {
        flow,
      },
    );
    expect(codes(issues)).toEqual(['unknown-variable-type']);
    expect(result.rows.valid).toBe(1);
  });
});

describe('unknown card options', () => {
  it.each([
    ['P7D', 'expiresInterval', 'ISO 8601 durations'],
    ['2027-01-31T09:00:00Z', 'expires', 'date-times with a zone'],
    ['iOS|Android', 'targetPlatforms', 'platform lists'],
  ])('suggests the option that cells like %s fit', async (cell, option, looks) => {
    const rows = Array.from({ length: 5 }, (_, k) => `u${k},a${k},${cell}`).join('\n');
    const { issues } = await validateCsv(`${ID},${ACC},payload.cardOptions.expire\n${rows}\n`);
    const found = issues.find((i) => i.code === 'unknown-card-option');
    expect(found?.hint).toBe(
      `Did you mean payload.cardOptions.${option}? Most of the column's values are ${looks}.`,
    );
    expect(found?.hint).not.toContain(cell);
  });

  it('keeps the name-based suggestion when the cells fit no option', async () => {
    const { issues } = await validateCsv(`${ID},${ACC},payload.cardOptions.expire\nu1,a1,soon\n`);
    expect(issues.find((i) => i.code === 'unknown-card-option')?.hint).toBe(
      'Did you mean payload.cardOptions.expires?',
    );
  });
});
