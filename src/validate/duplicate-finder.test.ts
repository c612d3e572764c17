import { describe, expect, it } from 'vitest';
import { DuplicateFinder, type Duplicate } from './duplicate-finder.js';

/** A well-mixed 128-bit stand-in for the fingerprint of key `k` (murmur3's finaliser). */
function keyHash(k: number, into: Uint32Array): Uint32Array {
  for (let w = 0; w < 4; w++) {
    let h = (k ^ Math.imul(w + 1, 0x9e3779b9)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    into[w] = (h ^ (h >>> 16)) >>> 0;
  }
  return into;
}

async function collect(finder: DuplicateFinder): Promise<Duplicate[]> {
  const all: Duplicate[] = [];
  for await (const d of finder.duplicates()) all.push(d);
  return all;
}

describe('DuplicateFinder', () => {
  it('reports each repeat against the first occurrence, across spills', async () => {
    const finder = new DuplicateFinder({ memoryBytes: 64 * 1024 });
    const hash = new Uint32Array(4);
    for (let r = 1; r <= 200_000; r++) finder.add(keyHash(r % 150_000, hash), r + 1, r);
    const found = await collect(finder);
    await finder.close();
    expect(finder.spillCount).toBeGreaterThan(3);
    expect(found).toHaveLength(50_000);
    for (const d of found) {
      expect(d.record - d.firstRecord).toBe(150_000);
      expect(d.line).toBe(d.record + 1);
    }
  });

  it('keeps the cost of a key constant and memory flat over 3.5 million short keys', async () => {
    const finder = new DuplicateFinder();
    const hash = new Uint32Array(4);
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let r = 1; r <= 3_500_000; r++) {
      finder.add(keyHash(r, hash), r + 1, r);
      if (r % 100_000 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    // The pool is allocated once (4 MiB) and written out whole each time it fills: the
    // number of spills is the number of keys over the pool's capacity, not more.
    const capacity = finder.poolWords / 6;
    expect(finder.spillCount).toBeLessThanOrEqual(Math.ceil(3_500_000 / (capacity * 0.5)));
    expect(peak).toBeLessThan(8 * 1024 * 1024);
    let count = 0;
    for await (const d of finder.duplicates()) count += d.record > 0 ? 1 : 0;
    await finder.close();
    expect(count).toBe(0);
  });

  it('holds one table entry for millions of rows that share one key', async () => {
    const finder = new DuplicateFinder();
    const hash = keyHash(7, new Uint32Array(4));
    for (let r = 1; r <= 3_000_000; r++) finder.add(hash, r + 1, r);
    const before = process.memoryUsage().arrayBuffers;
    let count = 0;
    let againstFirst = 0;
    let peak = 0;
    for await (const d of finder.duplicates()) {
      if (d.firstRecord === 1) againstFirst++;
      if (++count % 500_000 === 0)
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    await finder.close();
    expect(count).toBe(2_999_999);
    expect(againstFirst).toBe(count);
    // Scanning reads 1.5 MiB at a time and keeps one key: no buffer the size of the partition.
    expect(peak).toBeLessThan(8 * 1024 * 1024);
  });
});
