/**
 * The UTF-8 checker against Node's own decoder: for random byte strings cut into random
 * chunks, it finds a problem exactly when the bytes are not valid UTF-8 (or hold a NUL),
 * at offsets that do not depend on where the chunks were cut.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodingProblem } from '../model/read-batch.js';
import { Utf8Checker } from './utf8.js';

function checkInChunks(bytes: Buffer, cuts: number[]): EncodingProblem[] {
  const checker = new Utf8Checker();
  const out: EncodingProblem[] = [];
  let from = 0;
  for (const end of [
    ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b),
    bytes.length,
  ]) {
    if (end <= from) continue;
    // A reused buffer, as the file reader hands out.
    const chunk = Buffer.from(bytes.subarray(from, end));
    out.push(...checker.push(chunk, from));
    chunk.fill(0x3f);
    from = end;
  }
  out.push(...checker.finish());
  return out;
}

const pieces = fc.oneof(
  fc.string({ maxLength: 8 }).map((s) => Buffer.from(s.replaceAll('\u0000', ''), 'utf8')),
  fc.constantFrom(
    Buffer.from('é€😀', 'utf8'),
    Buffer.from([0xc0, 0x80]), // overlong NUL
    Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    Buffer.from([0xe2, 0x82]), // cut short
    Buffer.from([0x80]), // a lone continuation byte
    Buffer.from([0xff]),
    Buffer.from([0x00]),
  ),
);

describe('Utf8Checker', () => {
  it('agrees with Node on validity, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(pieces, { maxLength: 12 }),
        fc.array(fc.nat(60), { maxLength: 6 }),
        (parts, cuts) => {
          const bytes = Buffer.concat(parts);
          const problems = checkInChunks(bytes, cuts);
          const valid = isUtf8(bytes) && !bytes.includes(0);
          expect(problems.length === 0).toBe(valid);
          expect(problems).toEqual(checkInChunks(bytes, []));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('places each problem at its first byte', () => {
    const bytes = Buffer.concat([
      Buffer.from('ab'),
      Buffer.from([0xff]),
      Buffer.from('c'),
      Buffer.from([0]),
      Buffer.from([0xe2, 0x82]),
    ]);
    expect(checkInChunks(bytes, [3, 6])).toEqual([
      { offset: 2, kind: 'invalid-utf8' },
      { offset: 4, kind: 'nul-byte' },
      { offset: 5, kind: 'invalid-utf8' },
    ]);
  });
});
