/** UUID text from 16 raw bytes, as RFC 9562 version 8 (the bytes are the tool's own). */

const HEX = Buffer.from(
  Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0')).join(''),
  'latin1',
);
const DASH = 0x2d;

/** Writes raw[k*16, k*16+16) as 36 ASCII bytes (8-4-4-4-12, version 8) at `out[at]`. */
export function writeUuid(raw: Buffer, k: number, out: Buffer, at: number): void {
  let o = at;
  for (let j = 0; j < 16; j++) {
    let b = raw[k * 16 + j] as number;
    if (j === 6) b = (b & 0x0f) | 0x80;
    else if (j === 8) b = (b & 0x3f) | 0x80;
    out[o++] = HEX[b * 2] as number;
    out[o++] = HEX[b * 2 + 1] as number;
    if (j === 3 || j === 5 || j === 7 || j === 9) out[o++] = DASH;
  }
}
