/**
 * The part budget is exact (issue 17): for random rows — ids empty, `""`, given or quoted,
 * rejected.csv annotation columns and neutralised cells — a row is refused as too large
 * if and only if the part that would hold it alone is over the budget; when it fits, that
 * part is exactly the size computed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { neutralise } from './neutralise.js';
import { planColumns } from '../validate/columns.js';
import { splitCsv, testIds } from '../../test/split-helpers.js';
import { TEST_FLOW } from '../../test/validate-helpers.js';
import { sendLayout } from './row-layout.js';

const text = fc.string({
  unit: fc.constantFrom('a', 'b', 'é', ',', '"', '\n', "'", '=', '-', ' ', '1', '+', '@'),
  minLength: 1,
  maxLength: 12,
});

/** A cell as a CSV writer might write it: bare when it can be, else (or by choice) quoted. */
function encode(value: string, quote: boolean): string {
  const needs = /[",\r\n]/.test(value);
  return needs || quote ? `"${value.replaceAll('"', '""')}"` : value;
}

const idCell = fc.oneof(
  fc.constant(''),
  fc.constant('""'),
  fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,20}$/),
  fc.stringMatching(/^[a-z0-9]{1,10}$/).map((id) => `"${id}"`),
);

const row = fc.record({
  idColumn: fc.constantFrom('none', 'first', 'last'),
  rejected: fc.boolean(),
  target: fc.stringMatching(/^[a-z0-9]{1,8}$/),
  account: text,
  name: text,
  quote: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  id: idCell,
  errors: fc.string({ maxLength: 30 }),
});

type Row = typeof row extends fc.Arbitrary<infer T> ? T : never;

function csvOf(r: Row) {
  const columns = [
    'target.attributes.atomic___id',
    'payload.variables.account',
    'payload.variables.name',
  ];
  const cells = [
    r.target,
    encode(r.rejected ? neutralise(r.account) : r.account, r.quote[0] === true),
    encode(r.rejected ? neutralise(r.name) : r.name, r.quote[1] === true),
  ];
  if (r.idColumn === 'first') {
    columns.unshift('flowInvocationId');
    cells.unshift(r.id);
  } else if (r.idColumn === 'last') {
    columns.push('flowInvocationId');
    cells.push(r.id);
  }
  if (r.rejected) {
    columns.push('_line', '_errors');
    cells.push('7', encode(r.errors, r.quote[2] === true));
  }
  return { columns, csv: `${columns.join(',')}\n${cells.join(',')}\n` };
}

async function run(csv: string, columns: string[], maxPartBytes: number) {
  const plan = planColumns(columns, TEST_FLOW, { allowUnknownVariables: false, headerLine: 1 });
  return splitCsv(csv, {
    maxPartBytes,
    flow: TEST_FLOW,
    layout: sendLayout(plan, columns.length),
    ids: testIds(),
    restoreRejected: true,
  });
}

describe('the part budget', () => {
  it('refuses a row if and only if its part alone is over the budget', async () => {
    await fc.assert(
      fc.asyncProperty(row, fc.integer({ min: -3, max: 3 }), async (r, delta) => {
        const { columns, csv } = csvOf(r);
        const free = await run(csv, columns, 1_000_000);
        expect(free.log.list().map((i) => i.code)).toEqual([]);
        expect(free.parts).toHaveLength(1);
        const size = free.parts[0]?.bytes as number;
        expect(size).toBe(free.sink.files.get(1)?.length);
        const budget = size + delta;
        const tight = await run(csv, columns, budget);
        const refused = tight.log.list().some((i) => i.code === 'record-too-large');
        expect(refused).toBe(size > budget);
        if (!refused) expect(tight.parts.map((p) => p.bytes)).toEqual([size]);
      }),
      { numRuns: 3000 },
    );
    // 6,000 validate-and-split runs: about 20 s alone, more on a loaded CI machine.
  }, 120_000);

  it('counts a quoted empty id as the two bytes it gives back', async () => {
    const columns = [
      'target.attributes.atomic___id',
      'payload.variables.account',
      'flowInvocationId',
    ];
    const csv = `${columns.join(',')}\nu1,a,""\n`;
    const free = await run(csv, columns, 1_000_000);
    const size = free.parts[0]?.bytes as number;
    // header + LF, and "u1,a," + a 36-character id + LF
    expect(size).toBe(columns.join(',').length + 1 + 'u1,a,'.length + 36 + 1);
    const exact = await run(csv, columns, size);
    expect(exact.log.list()).toEqual([]);
    expect(exact.parts.map((p) => p.bytes)).toEqual([size]);
  });
});
