import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../model/random.js';
import { neutralise } from '../model/neutralise.js';
import { RECORD_BLANK, RECORD_TOO_LARGE } from '../model/record-batch.js';
import { RecordReader } from '../read/record-reader.js';
import { csvField } from '../report/rejected-csv.js';
import { plainRowText } from './explainer.js';

/** Cells of every kind the plain path must either copy exactly or leave to the slow one. */
const CELLS = [
  'user-1',
  'Zoë',
  '',
  '12',
  '-5',
  '=SUM(A1)',
  '+1',
  '@me',
  "'quoted",
  'a"b',
  '"q,uoted"',
  '"plain"',
  '"multi\nline"',
  '"say ""hi"""',
  'tab\there',
  'cr\rin',
  ' spaced ',
  '\u00e9\u0301',
  '🎉',
];

function fuzzCsv(random: () => number, rows: number, width: number): Buffer {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    // Mostly the header's width; sometimes a cell short or over.
    const n = random() < 0.85 ? width : width + (random() < 0.5 ? -1 : 1);
    const cells = Array.from(
      { length: Math.max(1, n) },
      () => CELLS[Math.floor(random() * CELLS.length)] as string,
    );
    lines.push(cells.join(','));
  }
  const ending = random() < 0.5 ? '\n' : '\r\n';
  const bytes = Buffer.from(`${lines.join(ending)}${ending}`);
  // A few invalid UTF-8 bytes, as a broken export has them.
  for (let k = 0; k < 3; k++) {
    const at = Math.floor(random() * bytes.length);
    if (bytes[at] !== 0x0a && bytes[at] !== 0x0d && bytes[at] !== 0x2c && bytes[at] !== 0x22)
      bytes[at] = 0xc3;
  }
  return bytes;
}

describe('plainRowText', () => {
  it('is the slow path’s text wherever it answers, on fuzzed rows', async () => {
    const random = mulberry32(21);
    let plain = 0;
    let slow = 0;
    for (let round = 0; round < 40; round++) {
      const width = 1 + Math.floor(random() * 5);
      const input = fuzzCsv(random, 400, width);
      // Cut at random points, so records straddle the reader's chunks.
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length;) {
        const size = 1 + Math.floor(random() * 700);
        chunks.push(input.subarray(at, at + size));
        at += size;
      }
      for await (const { records: b } of new RecordReader().batches(chunks)) {
        for (let i = 0; i < b.count; i++) {
          if (((b.flags[i] as number) & (RECORD_BLANK | RECORD_TOO_LARGE)) !== 0) continue;
          const text = plainRowText(b, i, width);
          const fields = b.fields(i);
          if (text === null) {
            slow++;
            continue;
          }
          plain++;
          expect(fields.length).toBe(width);
          expect(text).toBe(fields.map((f) => csvField(neutralise(f))).join(','));
        }
      }
    }
    expect(plain).toBeGreaterThan(500);
    expect(slow).toBeGreaterThan(500);
  });
});
