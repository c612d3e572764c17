/**
 * The duplicate finder's spill files themselves: private (0700 folder, 0600 files) in the
 * given temporary folder, 24 bytes per entry with every entry written once, gone after
 * close() — also when the run stops before duplicates() is read — and, whatever the pool
 * size and so wherever the spills fall, the same duplicates as a plain Map finds.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DuplicateFinder, type Duplicate } from './duplicate-finder.js';

async function folder(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'atomic-bulk-spill-test-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

function hashOf(key: number, into: Uint32Array): Uint32Array {
  // Distinct keys get distinct, well-spread fingerprints; the top byte picks the partition.
  for (let w = 0; w < 4; w++) {
    let h = Math.imul(key + 1, 0x9e3779b1) ^ Math.imul(w + 7, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    into[w] = (h ^ (h >>> 12)) >>> 0;
  }
  return into;
}

async function collect(finder: DuplicateFinder): Promise<Duplicate[]> {
  const out: Duplicate[] = [];
  for await (const d of finder.duplicates()) out.push(d);
  return out;
}

describe('DuplicateFinder spill files', () => {
  it('are private, hold 24 bytes per entry, and are removed by close()', async () => {
    const temp = await folder();
    const finder = new DuplicateFinder({ memoryBytes: 1, tempDir: temp });
    const hash = new Uint32Array(4);
    const capacity = finder.poolWords / 6;
    const keys = Math.floor(capacity * 2.5);
    for (let r = 1; r <= keys; r++) finder.add(hashOf(r, hash), r + 1, r);
    expect(finder.spillCount).toBeGreaterThanOrEqual(2);
    const [dir, ...others] = await readdir(temp);
    expect(others).toEqual([]);
    expect(dir).toMatch(/^atomic-bulk-dups-/);
    expect((await stat(join(temp, dir as string))).mode & 0o777).toBe(0o700);
    const files = (await readdir(join(temp, dir as string))).sort();
    expect(files).toEqual(Array.from({ length: finder.spillCount }, (_, i) => `${i}.bin`).sort());
    let bytes = 0;
    for (const f of files) {
      const s = await stat(join(temp, dir as string, f));
      expect(s.mode & 0o777).toBe(0o600);
      bytes += s.size;
    }
    // Each spill holds the pool's entries when it filled (all chunks taken, at most the
    // last of each partition part-full), 24 bytes each, nothing else.
    expect(bytes % 24).toBe(0);
    expect(bytes / 24).toBeGreaterThanOrEqual((finder.spillCount * capacity) / 2);
    expect(bytes / 24).toBeLessThanOrEqual(keys);
    expect(await collect(finder)).toEqual([]);
    await finder.close();
    expect(await readdir(temp)).toEqual([]);
  });

  it('leaves nothing behind when the run stops before the duplicates are read', async () => {
    const temp = await folder();
    const finder = new DuplicateFinder({ memoryBytes: 1, tempDir: temp });
    const hash = new Uint32Array(4);
    for (let r = 1; r <= finder.poolWords; r++) finder.add(hashOf(r, hash), r + 1, r);
    expect(finder.spillCount).toBeGreaterThan(0);
    await finder.close();
    await finder.close(); // twice is fine
    expect(await readdir(temp)).toEqual([]);
  });

  it('finds what a Map finds, wherever the spills fall', async () => {
    const temp = await folder();
    let spilled = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 2_000_000 }),
        async (rows, distinct, seed, memoryBytes) => {
          const finder = new DuplicateFinder({ memoryBytes, tempDir: temp });
          const hash = new Uint32Array(4);
          const first = new Map<number, number>();
          const expected: Duplicate[] = [];
          let state = seed;
          for (let record = 1; record <= rows; record++) {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            const k = state % distinct;
            finder.add(hashOf(k, hash), record * 2, record);
            const at = first.get(k);
            if (at === undefined) first.set(k, record);
            else expected.push({ line: record * 2, record, firstLine: at * 2, firstRecord: at });
          }
          try {
            const found = await collect(finder);
            spilled += finder.spillCount;
            found.sort((a, b) => a.record - b.record);
            expect(found).toEqual(expected);
          } finally {
            await finder.close();
          }
        },
      ),
      { numRuns: 25 },
    );
    expect(spilled).toBeGreaterThan(0);
    expect(await readdir(temp)).toEqual([]);
  });
});
