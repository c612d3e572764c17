import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { csvDocument, cutPoints } from '../../test/arbitraries.js';
import { splitCsv, testIds } from '../../test/split-helpers.js';
import { TEST_FLOW } from '../../test/validate-helpers.js';

const HEADER = 'id,name';

function partTexts(run: Awaited<ReturnType<typeof splitCsv>>): string[] {
  return run.parts.map((p) => (run.sink.files.get(p.number) as Buffer).toString());
}

describe('splitter', () => {
  it('starts every part with the header and keeps parts within the budget, exactly', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => `${i},name-${i}`);
    const csv = `${HEADER}\n${rows.join('\n')}\n`;
    // header (8) + 3 rows of 9 bytes = 35: three rows per part.
    const run = await splitCsv(csv, { maxPartBytes: 35 });
    const texts = partTexts(run);
    expect(texts).toEqual([
      'id,name\n0,name-0\n1,name-1\n2,name-2\n',
      'id,name\n3,name-3\n4,name-4\n5,name-5\n',
      'id,name\n6,name-6\n7,name-7\n8,name-8\n',
      'id,name\n9,name-9\n',
    ]);
    expect(run.parts.map((p) => [p.number, p.rows, p.bytes, p.firstLine, p.lastLine])).toEqual([
      [1, 3, 35, 2, 4],
      [2, 3, 35, 5, 7],
      [3, 3, 35, 8, 10],
      [4, 1, 17, 11, 11],
    ]);
  });

  it('writes LF line endings and no byte-order mark, whatever the input used', async () => {
    const run = await splitCsv(`\ufeff${HEADER}\r\n1,a\r2,b\r\n`, { maxPartBytes: 1000 });
    expect(partTexts(run)).toEqual(['id,name\n1,a\n2,b\n']);
  });

  it('keeps line breaks inside quoted fields as they are and never cuts inside quotes', async () => {
    const run = await splitCsv(`${HEADER}\n1,"a\r\nb"\n2,"c,d"\n`, { maxPartBytes: 20 });
    expect(partTexts(run)).toEqual(['id,name\n1,"a\r\nb"\n', 'id,name\n2,"c,d"\n']);
  });

  it('never writes a header-only part, and writes none for a header-only input', async () => {
    const run = await splitCsv(`${HEADER}\n`, { maxPartBytes: 100 });
    expect(run.parts).toEqual([]);
    expect(run.log.byCode.get('empty-file')).toBe(1);
  });

  it('reports a record that cannot fit with the header and leaves it out', async () => {
    const run = await splitCsv(`${HEADER}\n1,a\n2,${'x'.repeat(50)}\n3,c\n`, { maxPartBytes: 30 });
    expect(run.log.list().map((i) => [i.code, i.line])).toEqual([['record-too-large', 3]]);
    expect(partTexts(run).join('')).toBe('id,name\n1,a\n3,c\n');
  });

  it('appends a flowInvocationId column and counts it in the budget', async () => {
    const csv = 'target.attributes.atomic___id,payload.variables.account\nu1,a1\nu2,a2\n';
    const run = await splitCsv(csv, {
      maxPartBytes: 200,
      flow: TEST_FLOW,
      layout: { cutAt: null, fillColumn: -1, append: true },
      ids: testIds(),
    });
    const [text] = partTexts(run);
    const lines = (text as string).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'target.attributes.atomic___id,payload.variables.account,flowInvocationId',
    );
    expect(lines[1]).toBe(`u1,a1,${testIds().idFor(1)}`);
    expect(lines[2]).toBe(`u2,a2,${testIds().idFor(2)}`);
    expect(run.parts[0]?.bytes).toBe(Buffer.byteLength(text as string));
    expect(run.sink.ids.get(1)).toBe(`2,${testIds().idFor(1)}\n3,${testIds().idFor(2)}\n`);
  });

  it('fills empty flowInvocationId cells and keeps the ones given', async () => {
    const csv =
      'target.attributes.atomic___id,flowInvocationId,payload.variables.account\nu1,,a1\nu2,mine,a2\nu3,"",a3\n';
    const run = await splitCsv(csv, {
      maxPartBytes: 500,
      flow: TEST_FLOW,
      layout: { cutAt: null, fillColumn: 1, append: false },
      ids: testIds(),
    });
    const [text] = partTexts(run);
    expect(text).toBe(
      `target.attributes.atomic___id,flowInvocationId,payload.variables.account\nu1,${testIds().idFor(1)},a1\nu2,mine,a2\nu3,${testIds().idFor(3)},a3\n`,
    );
    expect(run.sink.ids.get(1)).toBe(`2,${testIds().idFor(1)}\n3,mine\n4,${testIds().idFor(3)}\n`);
  });

  it('drops the trailing _line and _errors columns of a re-sent rejected.csv', async () => {
    const csv =
      'target.attributes.atomic___id,payload.variables.account,_line,_errors\nu1,a1,7,"invalid-number (x); empty-target"\n';
    const run = await splitCsv(csv, {
      maxPartBytes: 500,
      flow: TEST_FLOW,
      layout: { cutAt: 2, fillColumn: -1, append: true },
      ids: testIds(),
    });
    expect(partTexts(run)).toEqual([
      `target.attributes.atomic___id,payload.variables.account,flowInvocationId\nu1,a1,${testIds().idFor(1)}\n`,
    ]);
  });
});

describe('splitter properties', () => {
  const documents = csvDocument({ maxRows: 25 }).chain((doc) =>
    fc.tuple(
      fc.constant(doc),
      fc.integer({ min: 1, max: 500 }),
      cutPoints(Buffer.byteLength(doc.text)),
    ),
  );

  it('gives parts within budget, numbered 1..n, each with the header, whose rows are the input rows in order', async () => {
    await fc.assert(
      fc.asyncProperty(documents, async ([doc, budget, cuts]) => {
        const run = await splitCsv(doc.text, { maxPartBytes: budget, cuts });
        const texts = partTexts(run);
        expect(run.parts.map((p) => p.number)).toEqual(texts.map((_, i) => i + 1));
        const headerRow = doc.rows[0] as string[];
        const rows: string[][] = [];
        for (const [i, text] of texts.entries()) {
          expect(Buffer.byteLength(text)).toBe(run.parts[i]?.bytes);
          expect(run.parts[i]?.bytes).toBeLessThanOrEqual(budget);
          expect(run.parts[i]?.rows).toBeGreaterThan(0);
          const parsed: string[][] = parse(text, { relax_column_count: true });
          expect(parsed[0]).toEqual(headerRow);
          expect(parsed.length - 1).toBe(run.parts[i]?.rows);
          rows.push(...parsed.slice(1));
        }
        // Rows too large for the budget are reported, not split; every other row arrives.
        const tooLarge = run.log.list().filter((i) => i.code === 'record-too-large');
        // Generated documents have no blank lines: an empty single value is written "".
        const expected = doc.rows.slice(1);
        if (tooLarge.some((i) => i.record === 0)) expect(rows).toEqual([]);
        else if (tooLarge.length === 0) expect(rows).toEqual(expected);
        else expect(rows.length).toBe(expected.length - tooLarge.length);
      }),
      { numRuns: 300 },
    );
  });

  it('gives byte-identical parts for any chunking of the input', async () => {
    await fc.assert(
      fc.asyncProperty(documents, async ([doc, budget, cuts]) => {
        const whole = await splitCsv(doc.text, { maxPartBytes: budget });
        const pieces = await splitCsv(doc.text, { maxPartBytes: budget, cuts });
        expect(partTexts(pieces)).toEqual(partTexts(whole));
        expect(pieces.parts).toEqual(whole.parts);
      }),
      { numRuns: 300 },
    );
  });
});
