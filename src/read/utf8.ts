/**
 * Finds invalid UTF-8 and NUL bytes in a byte stream, by absolute offset, so the
 * validator can place each one on its record and column. Node's native `isUtf8` clears
 * a whole chunk at memory speed; only a chunk that fails is walked byte by byte.
 * A multi-byte character cut by a chunk boundary is held back until the next chunk.
 */
import { isUtf8 } from 'node:buffer';

import type { EncodingProblem } from '../model/read-batch.js';

export type { EncodingFault, EncodingProblem } from '../model/read-batch.js';

export class Utf8Checker {
  private carry: Buffer = Buffer.alloc(0);
  private carryOffset = 0;
  /** The last chunk ended inside a broken sequence: its continuation bytes go on. */
  private skipping = false;

  /** Checks `chunk`, which starts at absolute input offset `offset`. */
  push(chunk: Buffer, offset: number): EncodingProblem[] {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const dataOffset = this.carry.length === 0 ? offset : this.carryOffset;
    const cut = completeLength(data);
    // Copy: the caller may reuse the chunk's memory for the next read.
    this.carry = Buffer.from(data.subarray(cut));
    this.carryOffset = dataOffset + cut;
    return this.check(data.subarray(0, cut), dataOffset);
  }

  private check(data: Buffer, offset: number): EncodingProblem[] {
    if (data.length === 0) return [];
    const continues = this.skipping && ((data[0] as number) & 0xc0) === 0x80;
    if (!continues && isUtf8(data) && data.indexOf(0) === -1) {
      this.skipping = false;
      return [];
    }
    const result = scan(data, offset, this.skipping);
    this.skipping = result.skipping;
    return result.problems;
  }

  /** Reports a character left incomplete at the end of the input. */
  finish(): EncodingProblem[] {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    const problems = this.check(rest, this.carryOffset);
    this.skipping = false;
    return problems;
  }
}

/** Length of the prefix of `data` that does not end inside a multi-byte character. */
function completeLength(data: Buffer): number {
  const n = data.length;
  for (let back = 1; back <= 4 && back <= n; back++) {
    const b = data[n - back] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need =
      b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/**
 * Walks bytes per RFC 3629, reporting each invalid sequence once, and each NUL. With
 * `skipping`, leading continuation bytes belong to a broken sequence reported before.
 * Returns whether the bytes end inside a broken sequence.
 */
export function scan(
  data: Buffer,
  offset: number,
  skipping = false,
): { problems: EncodingProblem[]; skipping: boolean } {
  const out: EncodingProblem[] = [];
  const n = data.length;
  let p = 0;
  if (skipping) while (p < n && ((data[p] as number) & 0xc0) === 0x80) p++;
  let broken = skipping && p === n;
  while (p < n) {
    const b = data[p] as number;
    broken = false;
    if (b < 0x80) {
      if (b === 0) out.push({ offset: offset + p, kind: 'nul-byte' });
      p++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if (b >= 0xe1 && b <= 0xec) need = 2;
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b === 0xee || b === 0xef) need = 2;
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    let ok = need > 0 && p + need < n;
    if (ok) {
      const b1 = data[p + 1] as number;
      ok = b1 >= lo && b1 <= hi;
      for (let k = 2; ok && k <= need; k++) {
        const bk = data[p + k] as number;
        ok = bk >= 0x80 && bk <= 0xbf;
      }
    }
    if (ok) {
      p += need + 1;
    } else {
      out.push({ offset: offset + p, kind: 'invalid-utf8' });
      p++;
      // Skip the continuation bytes of the broken sequence: one problem per sequence.
      while (p < n && ((data[p] as number) & 0xc0) === 0x80) p++;
      broken = p === n;
    }
  }
  return { problems: out, skipping: broken };
}
