/**
 * A growable set of data-record numbers as a bitset: one bit per record, so marking the
 * invalid rows of a 10-million-row file costs 1.25 MB whatever their number.
 */
export class RecordSet {
  private bits = new Uint8Array(1024);
  size = 0;

  add(record: number): void {
    const byte = record >>> 3;
    if (byte >= this.bits.length) {
      let n = this.bits.length * 2;
      while (n <= byte) n *= 2;
      const next = new Uint8Array(n);
      next.set(this.bits);
      this.bits = next;
    }
    const mask = 1 << (record & 7);
    if (((this.bits[byte] as number) & mask) === 0) {
      this.bits[byte] = (this.bits[byte] as number) | mask;
      this.size++;
    }
  }

  has(record: number): boolean {
    const byte = record >>> 3;
    return byte < this.bits.length && ((this.bits[byte] as number) & (1 << (record & 7))) !== 0;
  }
}
