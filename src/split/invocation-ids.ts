/**
 * Deterministic flowInvocationIds (SPEC 2.5): a UUID derived from (run id, flow id, mode,
 * data-record number). The four are reduced to an AES-128 key and the record number is
 * encrypted with it: AES is a permutation, so ids within a run never collide before the
 * six version and variant bits are set (RFC 9562 version 8), and a whole batch of ids
 * costs one native call. Re-running the same file reuses the same ids, which is what
 * makes Atomic's idempotency protect a re-send.
 */
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import type { SendMode } from '../model/report.js';

/** Length of an id as text: 8-4-4-4-12 hex digits. */
export { ID_LENGTH } from '../model/row-layout.js';
import { ID_LENGTH } from '../model/row-layout.js';

const HEX = Buffer.from(
  Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0')).join(''),
  'latin1',
);
const DASH = 0x2d;

export class InvocationIds {
  private readonly cipher: Cipher;
  private raw = Buffer.alloc(0);
  private plain = Buffer.alloc(0);

  constructor(runId: string, flowConfigId: string, mode: SendMode) {
    const key = createHash('sha256')
      .update(`atomic-bulk/flowInvocationId/v1\u0000${runId}\u0000${flowConfigId}\u0000${mode}`)
      .digest()
      .subarray(0, 16);
    this.cipher = createCipheriv('aes-128-ecb', key, null);
    this.cipher.setAutoPadding(false);
  }

  /** Computes the raw ids of `count` records at once; read them with `write(k, …)`. */
  prepare(recordNos: ArrayLike<number>, count: number): void {
    if (this.plain.length < count * 16) {
      this.plain = Buffer.alloc(Math.max(count * 16, 4096));
    }
    const plain = this.plain;
    for (let k = 0; k < count; k++) {
      const n = recordNos[k] ?? 0;
      plain.writeUInt32BE(Math.floor(n / 0x1_0000_0000), k * 16 + 8);
      plain.writeUInt32BE(n >>> 0, k * 16 + 12);
    }
    this.raw = this.cipher.update(plain.subarray(0, count * 16));
  }

  /** Writes the id of the k-th prepared record as 36 ASCII bytes at `out[at]`. */
  write(k: number, out: Buffer, at: number): void {
    const raw = this.raw;
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

  /** The id of one record, as text (for tests and explanations). */
  idFor(recordNo: number): string {
    this.prepare([recordNo], 1);
    const out = Buffer.alloc(ID_LENGTH);
    this.write(0, out, 0);
    return out.toString('latin1');
  }
}
