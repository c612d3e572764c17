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
import { writeUuid } from '../model/uuid.js';

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
    writeUuid(this.raw, k, out, at);
  }

  /** The id of one record, as text (for tests and explanations). */
  idFor(recordNo: number): string {
    this.prepare([recordNo], 1);
    const out = Buffer.alloc(ID_LENGTH);
    this.write(0, out, 0);
    return out.toString('latin1');
  }
}
