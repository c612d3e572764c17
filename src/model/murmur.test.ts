/**
 * MurmurHash3 x86_128 known answers, from an independent implementation (the Perl module
 * Digest::MurmurHash3::PurePerl): empty input, short tails, a full block plus a tail,
 * multi-byte UTF-8, and a seed.
 */
import { describe, expect, it } from 'vitest';
import { murmur128 } from './murmur.js';

const VECTORS: [string, number, string][] = [
  ['', 0, '00000000 00000000 00000000 00000000'],
  ['hello', 0, '2b2444a0 db91def7 9adb31b6 9adb31b6'],
  ['The quick brown fox jumps over the lazy dog', 0, '2f1583c3 ecee2c67 5d7bf66c e5e91d2c'],
  ['0190f3a2-7c1e-8d4b-9a6f-000000000042', 42, 'd37e9617 4da1ee30 cfaeee14 a0dc9262'],
  ['abcdefghijklmnopq', 7, '506e5dab 2366d6e6 84b57793 9b5ec122'],
];

describe('murmur128', () => {
  it.each(VECTORS)('hashes %j (seed %d) as the reference does', (text, seed, expected) => {
    const bytes = Buffer.from(text, 'utf8');
    // Offset into a larger buffer, as the validator hashes fields in place.
    const padded = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]);
    const out = new Uint32Array(4);
    murmur128(padded, 2, 2 + bytes.length, out, seed);
    expect([...out].map((w) => w.toString(16).padStart(8, '0')).join(' ')).toBe(expected);
  });
});
