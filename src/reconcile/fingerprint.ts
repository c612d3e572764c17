/**
 * An invocation id's 128-bit fingerprint (MurmurHash3, as the duplicate finder uses),
 * written big-endian so sorted bytes are sorted fingerprints: the key of the on-disk joins
 * of analytics events and of cards with a run's rows.
 */
import { murmur128 } from '../model/murmur.js';

export const FINGERPRINT_BYTES = 16;

export class Fingerprinter {
  private readonly hash = new Uint32Array(4);
  private readonly scratch = Buffer.alloc(1024);

  /** Writes the id's fingerprint at `into[0, 16)`; false for an id over 1 KiB (no id is). */
  write(id: string, into: Buffer): boolean {
    const n = this.scratch.write(id, 0, 'utf8');
    if (n >= this.scratch.length) return false;
    murmur128(this.scratch, 0, n, this.hash);
    for (let k = 0; k < 4; k++) into.writeUInt32BE(this.hash[k] as number, k * 4);
    return true;
  }
}
