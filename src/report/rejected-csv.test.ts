import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RejectedCsvWriter } from './rejected-csv.js';

let dir: string | null = null;
afterEach(async () => {
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

async function written(header: string[], rows: Parameters<RejectedCsvWriter['write']>[0][]) {
  dir = await mkdtemp(join(tmpdir(), 'rejected-'));
  const path = join(dir, 'rejected.csv');
  const writer = new RejectedCsvWriter(createWriteStream(path), header);
  for (const row of rows) await writer.write(row);
  await writer.close();
  return readFile(path, 'utf8');
}

describe('RejectedCsvWriter', () => {
  it('writes the rows with _line and _errors, re-quoted from their values', async () => {
    const text = await written(
      ['id', 'name'],
      [{ line: 3, fields: ['u1', 'Smith, "Jo"'], errors: ['invalid-number (amount)', 'x'] }],
    );
    expect(text).toBe('id,name,_line,_errors\nu1,"Smith, ""Jo""",3,invalid-number (amount); x\n');
  });

  it('neutralises cells a spreadsheet would run, header included, and marks apostrophes too', async () => {
    const text = await written(
      ['=cmd', 'name'],
      [{ line: 2, fields: ['=HYPERLINK("x")', "'quoted"], errors: [] }],
    );
    const [header, row] = text.split('\n');
    expect(header).toBe("'=cmd,name,_line,_errors");
    expect(row).toBe(`"'=HYPERLINK(""x"")",''quoted,2,`);
  });

  it('pads short rows and keeps every value of long ones; a row too large to keep is blank', async () => {
    const text = await written(
      ['a', 'b', 'c'],
      [
        { line: 2, fields: ['1'], errors: ['field-count'] },
        { line: 3, fields: ['1', '2', '3', '4'], errors: ['field-count'] },
        { line: 4, fields: null, errors: ['record-too-large'] },
      ],
    );
    expect(text.split('\n').slice(1, 4)).toEqual([
      '1,,,2,field-count',
      '1,2,3,4,3,field-count',
      ',,,4,record-too-large',
    ]);
  });
});
