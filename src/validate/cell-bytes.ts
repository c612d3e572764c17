/** Byte-level helpers shared by the cell grammars (cells.ts, cell-time.ts). */

export const ZERO = 0x30;
export const NINE = 0x39;
export const MINUS = 0x2d;
export const PLUS = 0x2b;
export const DOT = 0x2e;
export const COLON = 0x3a;
export const PIPE = 0x7c;

export function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

/** Reads `count` digits at p as a number, or -1 when any is not a digit or out of range. */
export function digits(buf: Buffer, p: number, count: number, end: number): number {
  if (p + count > end) return -1;
  let v = 0;
  for (let k = 0; k < count; k++) {
    const c = buf[p + k] as number;
    if (c < ZERO || c > NINE) return -1;
    v = v * 10 + (c - ZERO);
  }
  return v;
}

export function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

export function hasEdgeSpace(buf: Buffer, s: number, e: number): boolean {
  return e > s && (isSpace(buf[s]) || isSpace(buf[e - 1]));
}
