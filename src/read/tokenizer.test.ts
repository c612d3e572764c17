import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { readAll } from '../../test/csv-helpers.js';
import { csvDocument, cutPoints } from '../../test/arbitraries.js';

describe('tokenizer', () => {
  it('splits fields on commas and records on LF, CRLF and lone CR', async () => {
    const { records, summary } = await readAll('a,b\n1,2\r\n3,4\r5,6');
    expect(records.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
      ['5', '6'],
    ]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    expect(summary.lineEndings).toEqual({ LF: 1, CRLF: 1, CR: 1 });
  });

  it('keeps commas, escaped quotes and line breaks inside quoted fields', async () => {
    const { records } = await readAll('h1,h2\n"a,b","say ""hi""\nthere"\nnext,row\n');
    expect(records[1]?.fields).toEqual(['a,b', 'say "hi"\nthere']);
    expect(records[1]?.line).toBe(2);
    expect(records[1]?.endLine).toBe(3);
    expect(records[2]?.line).toBe(4);
  });

  it('marks empty lines as blank and counts them as physical lines', async () => {
    const { records } = await readAll('a\n\n\r\nb\n');
    expect(records.map((r) => [r.line, r.blank])).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, false],
    ]);
  });

  it('does not treat a quoted empty field as a blank line', async () => {
    const { records } = await readAll('a\n""\n');
    expect(records[1]).toMatchObject({ blank: false, fields: [''] });
  });

  it('reports an unclosed quote at the line where the field began', async () => {
    const { records } = await readAll('a,b\n1,2\n3,"open\nstill\nopen');
    expect(records[2]).toMatchObject({ line: 3, problem: 'unclosed-quote@3' });
  });

  it('reports a stray quote inside an unquoted field and keeps reading', async () => {
    const { records } = await readAll('a,b\n1,x"y\n2,3\n');
    expect(records[1]).toMatchObject({ problem: 'stray-quote@2', fields: ['1', 'x"y'] });
    expect(records[2]).toMatchObject({ problem: null, fields: ['2', '3'] });
  });

  it('reports text after a closing quote and keeps the text in the field', async () => {
    const { records } = await readAll('a,b\n"x"y,2\n');
    expect(records[1]).toMatchObject({ problem: 'text-after-quote@2', fields: ['"x"y', '2'] });
  });

  it('strips a UTF-8 byte-order mark and says so', async () => {
    const { records, summary } = await readAll(Buffer.from('\ufeffa,b\n1,2\n'));
    expect(records[0]?.fields).toEqual(['a', 'b']);
    expect(summary.bom).toBe(true);
  });

  it('recognises a UTF-16 byte-order mark and reads nothing', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n', 'utf16le')]);
    const { records, summary } = await readAll(utf16);
    expect(summary.foreignEncoding).toBe('UTF-16LE');
    expect(records).toEqual([]);
  });

  it('drops the content of a record longer than the limit but keeps reading after it', async () => {
    const big = 'x'.repeat(1000);
    const input = `a,b\n1,"${big}\n${big}"\n2,3\n`;
    for (const cuts of [[], [10], [10, 500, 1500, 2005]]) {
      const { records } = await readAll(input, cuts, 100);
      expect(records.map((r) => [r.line, r.tooLarge, r.fields])).toEqual([
        [1, false, ['a', 'b']],
        [2, true, null],
        [4, false, ['2', '3']],
      ]);
    }
  });

  it('locates invalid UTF-8 and NUL bytes by offset', async () => {
    const bytes = Buffer.concat([
      Buffer.from('a,b\n1,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',\0\n'),
    ]);
    const { encoding } = await readAll(bytes);
    expect(encoding).toEqual([6, 9]);
  });

  it('hashes and counts every input byte, BOM included', async () => {
    const input = Buffer.from('\ufeffa\n1\n');
    const { summary } = await readAll(input, [1, 2]);
    expect(summary.bytes).toBe(input.length);
    const { createHash } = await import('node:crypto');
    expect(summary.sha256).toBe(createHash('sha256').update(input).digest('hex'));
  });

  it('matches csv-parse on any valid CSV document', async () => {
    await fc.assert(
      fc.asyncProperty(csvDocument(), async ({ text }) => {
        const { records } = await readAll(text);
        const expected: string[][] = parse(text, {
          relax_column_count: true,
          skip_empty_lines: false,
        });
        const ours = records.map((r) => (r.blank ? [''] : r.fields));
        // csv-parse reads an empty line as one empty field; so do we, flagged blank.
        expect(ours).toEqual(expected.map((row) => (row.length === 0 ? [''] : row)));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same records and issues for any chunking of the input', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvDocument({ allowMalformed: true }).chain((doc) =>
          fc.tuple(fc.constant(doc), cutPoints(Buffer.byteLength(doc.text))),
        ),
        async ([{ text }, cuts]) => {
          const whole = await readAll(text, [], 64);
          const pieces = await readAll(text, cuts, 64);
          expect(pieces.records).toEqual(whole.records);
          expect(pieces.summary).toEqual(whole.summary);
          expect(pieces.encoding).toEqual(whole.encoding);
        },
      ),
      { numRuns: 400 },
    );
  });
});
