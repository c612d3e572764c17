import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  ExternalSorter,
  FileCursor,
  MergedCursor,
  RecordWriter,
  forEach,
  sortRecords,
} from './sorted-runs.js';

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sorted-runs-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function drain(sorter: ExternalSorter, width: number, keyBytes = width): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await forEach(new MergedCursor(await sorter.sources(), width, keyBytes), width, (b, at) => {
    out.push(Buffer.from(b.subarray(at, at + width)));
  });
  return out;
}

describe('external sorting', () => {
  it('sorts records across many spilled chunks exactly as an in-memory sort does (ties and shared prefixes included)', async () => {
    const width = 20;
    const sorter = new ExternalSorter(await dir(), width, width, 1000);
    const all: Buffer[] = [];
    for (let i = 0; i < 12_345; i++) {
      const r = randomBytes(width);
      // Many records share their first four bytes, some are equal whole.
      if (i % 3 === 0) r.writeUInt32BE(7, 0);
      if (i % 11 === 0 && all.length > 0) (all[all.length - 1] as Buffer).copy(r);
      all.push(r);
      await sorter.add(r, 0);
    }
    const got = await drain(sorter, width);
    await sorter.dispose();
    expect(got.map((b) => b.toString('hex'))).toEqual(
      [...all].sort((a, b) => Buffer.compare(a, b)).map((b) => b.toString('hex')),
    );
  });

  it('keeps one chunk in memory when nothing spills, and sorts an empty input', async () => {
    const empty = new ExternalSorter(await dir(), 8);
    expect(await drain(empty, 8)).toEqual([]);
    const few = new ExternalSorter(await dir(), 4);
    for (const n of [3, 1, 2]) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      await few.add(b, 0);
    }
    expect((await drain(few, 4)).map((b) => b.readUInt32BE(0))).toEqual([1, 2, 3]);
  });

  it('orders by the key prefix only and keeps sources in order for equal keys', () => {
    const buf = Buffer.from([5, 0, 0, 0, 1, 5, 0, 0, 0, 0, 1, 0, 0, 0, 9]);
    const sorted = sortRecords(buf, 3, 5, 4);
    expect([...sorted].filter((_, i) => i % 5 === 4)).toEqual([9, 1, 0]);
  });

  it('refuses a file whose size or digest differs from what the manifest says', async () => {
    const d = await dir();
    const w = new RecordWriter(join(d, 'seg.bin'), 4);
    await w.add(Buffer.from([1, 2, 3, 4]), 0);
    const sha256 = await w.close();
    const read = (entries: number, sha: string) =>
      forEach(
        new FileCursor(join(d, 'seg.bin'), 4, { sha256: sha, entries, what: 'Segment' }),
        4,
        () => undefined,
      );
    await expect(read(1, sha256)).resolves.toBeUndefined();
    await expect(read(2, sha256)).rejects.toThrow(/size changed/);
    await expect(read(1, '0'.repeat(64))).rejects.toThrow(/digest does not match/);
    await writeFile(join(d, 'seg.bin'), Buffer.from([1, 2, 3]));
    await expect(read(1, sha256)).rejects.toThrow(/whole number of entries/);
  });

  it('writes records pushed while a flush is in flight, in order', async () => {
    const d = await dir();
    const w = new RecordWriter(join(d, 'log.bin'), 4);
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 100_000; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      if (w.roomy) w.push(b, 0);
      else
        flushes.push(
          w.flush().then(() => undefined),
          w.add(b, 0),
        );
    }
    await Promise.all(flushes);
    await w.close();
    const seen: number[] = [];
    await forEach(new FileCursor(join(d, 'log.bin'), 4), 4, (b, at) => {
      seen.push(b.readUInt32BE(at));
    });
    expect(seen).toEqual(Array.from({ length: 100_000 }, (_, i) => i));
  });
});
