import { readdir } from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compare, ExternalSorter } from '../files/sorted-runs.js';
import { emptyStats } from './analytics-events.js';
import { ExportCache } from './export-cache.js';

const WIDTH = 24;

/** A period's sorted runs, of `n` records with random keys, written in the cache's folder. */
async function periodRuns(cache: ExportCache, n: number, seed: number): Promise<string[]> {
  const sorter = new ExternalSorter(cache.dir, WIDTH, 16, 64);
  const r = Buffer.alloc(WIDTH);
  let x = seed;
  for (let k = 0; k < n; k++) {
    for (let b = 0; b < WIDTH; b++) {
      x = (x * 1103515245 + 12345) >>> 0;
      r[b] = x >>> 24;
    }
    await sorter.add(r, 0);
  }
  return sorter.seal();
}

async function readAll(cache: ExportCache): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const cursor of cache.cursors()) {
    while (await cursor.fill())
      for (let at = cursor.pos; at < cursor.end; at += WIDTH)
        out.push(Buffer.from(cursor.buf.subarray(at, at + WIDTH)));
    await cursor.close();
  }
  return out;
}

describe('ExportCache (periods read by earlier looks)', () => {
  it('keeps every period’s events, merging its runs into one when there are many', async () => {
    const cache = await ExportCache.open(WIDTH);
    onTestFinished(() => cache.close());
    let records = 0;
    for (let p = 0; p < 12; p++) {
      // 150 records in chunks of 64: three runs a period, 36 in all, merged past 16.
      const runs = await periodRuns(cache, 150, p + 1);
      await cache.add(`ndjson:${p}`, runs, { ...emptyStats(), lines: 150, events: 150 });
      records += 150;
    }
    expect(cache.size).toBe(12);
    expect(cache.cursors().length).toBeLessThanOrEqual(16);
    expect(cache.counted()).toMatchObject({ lines: records, events: records });
    const all = await readAll(cache);
    expect(all.length).toBe(records);
    // Compaction wrote one sorted file: the cursors hold sorted runs (the first is the merge).
    const first = cache.cursors()[0]!;
    let previous: Buffer | null = null;
    let sorted = true;
    while (await first.fill())
      for (let at = first.pos; at < first.end; at += WIDTH) {
        const rec = first.buf.subarray(at, at + WIDTH);
        if (previous !== null && compare(previous, 0, rec, 0, 16) > 0) sorted = false;
        previous = Buffer.from(rec);
      }
    await first.close();
    expect(sorted).toBe(true);
    // The merged runs' files are gone: only what the cursors read is on disk.
    const files = (await readdir(cache.dir)).filter((f) => f.endsWith('.bin'));
    expect(files.length).toBe(cache.cursors().length);
  });

  it('reads everything again when a period it holds is no longer listed', async () => {
    const cache = await ExportCache.open(WIDTH);
    onTestFinished(() => cache.close());
    await cache.add('ndjson:0', await periodRuns(cache, 10, 1), emptyStats());
    await cache.add('ndjson:1', await periodRuns(cache, 10, 2), emptyStats());
    await cache.keepOnly(new Set(['ndjson:0', 'ndjson:1', 'ndjson:2']));
    expect(cache.size).toBe(2);
    await cache.keepOnly(new Set(['ndjson:1']));
    expect(cache.size).toBe(0);
    expect(cache.has('ndjson:1')).toBe(false);
    expect(await readAll(cache)).toEqual([]);
    expect((await readdir(cache.dir)).filter((f) => f.endsWith('.bin'))).toEqual([]);
  });
});
