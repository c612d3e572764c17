import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendFile, DiskIndex, memoryBudget, RecordFile } from './disk-table.js';

const dirs: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'disk-table-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const digest = (n: number) => {
  const d = Buffer.alloc(16);
  // Spread over partitions and slots like a hash would, but reproducibly.
  d.writeUInt32LE(Math.imul(n, 2654435761) >>> 0, 0);
  d.writeUInt32LE(Math.imul(n ^ 0x5bd1e995, 40503) >>> 0, 4);
  d.writeUInt32LE(n, 8);
  return d;
};

describe('AppendFile and RecordFile', () => {
  it('reads back what was appended, buffered or not, and overwrites in place', () => {
    const file = new AppendFile(join(folder(), 'a'));
    const small = file.append(Buffer.from('hello'));
    const big = file.append(randomBytes(200_000));
    const after = file.append(Buffer.from('world'));
    expect(file.read(small, 5).toString()).toBe('hello');
    expect(file.read(after, 5).toString()).toBe('world');
    expect(big).toBe(5);
    file.overwrite(after, Buffer.from('WORLD'));
    expect(file.read(after, 5).toString()).toBe('WORLD');
    file.close();
  });

  it('numbers records and reads ranges', () => {
    const dir = folder();
    const records = new RecordFile(join(dir, 'r'), 8);
    for (let i = 0; i < 10_000; i++) {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(i, 0);
      expect(records.add(b)).toBe(i);
    }
    expect(records.count).toBe(10_000);
    expect(records.get(1234).readDoubleLE(0)).toBe(1234);
    const range = records.range(9998, 2);
    expect([range.readDoubleLE(0), range.readDoubleLE(8)]).toEqual([9998, 9999]);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(-1, 0);
    records.set(5, b);
    expect(records.get(5).readDoubleLE(0)).toBe(-1);
    records.close();
    expect(statSync(join(dir, 'r')).mode & 0o777).toBe(0o600);
  });

  it('refuses to open a file that is already there (no writing through a planted link)', () => {
    const dir = folder();
    new AppendFile(join(dir, 'x')).close();
    expect(() => new AppendFile(join(dir, 'x'))).toThrow(/EEXIST/);
  });
});

describe('DiskIndex', () => {
  it('agrees with a Map over inserts and updates, in memory and once spilled to files', () => {
    for (const memoryBytes of [64 * 1024 * 1024, 64 * 1024]) {
      const dir = folder();
      const index = new DiskIndex(dir, memoryBudget(memoryBytes));
      const expected = new Map<number, number>();
      for (let i = 0; i < 60_000; i++) {
        const key = i % 7 === 6 ? i - 3 : i; // some keys come back and are replaced
        index.update(digest(key), (old) => {
          expect(old).toBe(expected.get(key) ?? -1);
          return i;
        });
        expected.set(key, i);
      }
      for (const [key, value] of expected) expect(index.get(digest(key))).toBe(value);
      expect(index.get(digest(10_000_000))).toBe(-1);
      // A null from `next` leaves the value.
      index.update(digest(1), () => null);
      expect(index.get(digest(1))).toBe(expected.get(1));
      const files = readdirSync(dir).filter((f) => f.startsWith('index-'));
      if (memoryBytes === 64 * 1024) expect(files.length).toBeGreaterThan(200);
      else expect(files).toEqual([]);
      // One generation per partition on disk: grown tables replace the old ones.
      expect(new Set(files.map((f) => f.split('.')[0])).size).toBe(files.length);
      index.close();
    }
  });
});
