/**
 * A run's invocation ids → their position in the run, in bounded memory: 128-bit
 * fingerprints (MurmurHash3, as the duplicate finder uses; a collision is negligible) in
 * an open-addressing table of typed arrays — about 40 bytes per id, so a million ids take
 * about 40 MB, against several times that for a Map of strings.
 */
import { murmur128 } from '../model/murmur.js';

export class IdTable {
  private readonly mask: number;
  /** Four words of fingerprint per slot; position + 1 in `slots` (0 = empty). */
  private readonly keys: Uint32Array;
  private readonly slots: Int32Array;
  private readonly hash = new Uint32Array(4);
  private readonly scratch = Buffer.alloc(1024);
  size = 0;

  constructor(capacity: number) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.mask = n - 1;
    this.keys = new Uint32Array(n * 4);
    this.slots = new Int32Array(n);
  }

  private fingerprint(id: string): boolean {
    const bytes = Buffer.byteLength(id);
    if (bytes > this.scratch.length) return false;
    this.scratch.write(id, 0, 'utf8');
    murmur128(this.scratch, 0, bytes, this.hash);
    return true;
  }

  /** The slot of the fingerprint in `hash`: where it is, or the empty slot where it would go. */
  private find(): number {
    const h = this.hash;
    let slot = (h[0] as number) & this.mask;
    for (;;) {
      if (this.slots[slot] === 0) return slot;
      const k = slot * 4;
      if (
        this.keys[k] === h[0] &&
        this.keys[k + 1] === h[1] &&
        this.keys[k + 2] === h[2] &&
        this.keys[k + 3] === h[3]
      )
        return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Adds an id at `position`; false when it was there already (or cannot be an id). */
  add(id: string, position: number): boolean {
    if (this.size * 2 >= this.slots.length) throw new Error('IdTable is full');
    if (!this.fingerprint(id)) return false;
    const slot = this.find();
    if (this.slots[slot] !== 0) return false;
    this.keys.set(this.hash, slot * 4);
    this.slots[slot] = position + 1;
    this.size++;
    return true;
  }

  /** The position of an id, or -1. */
  get(id: string): number {
    if (!this.fingerprint(id)) return -1;
    return (this.slots[this.find()] as number) - 1;
  }
}
