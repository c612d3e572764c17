import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CardJoin } from './card-join.js';
import { Delivery } from './delivery.js';
import { rowAt } from './row-cards.js';

async function invocationsFile(ids: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'card-join-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'invocations.csv');
  await writeFile(
    path,
    `line,flowInvocationId\n${ids.map((id, k) => `${k + 2},${id}`).join('\n')}\n`,
  );
  return path;
}

const card = (id: string | null, status: string, created: number | null = 2000) => ({
  cardInstanceId: 'c',
  cardTemplateId: 't',
  flowInvocationId: id,
  userId: 'u',
  status,
  created,
});

async function countTemplate(rows: number, store: 'memory' | 'disk'): Promise<Delivery> {
  const ids = Array.from({ length: rows }, (_, k) => `id-${k}`);
  const path = await invocationsFile(ids);
  const delivery = new Delivery(rows, 1000, store);
  onTestFinished(() => delivery.close());
  const j = await CardJoin.open();
  try {
    for (let k = 0; k < rows; k++) {
      if (k % 3 === 0) continue;
      await j.addCard(card(`id-${k}`, k % 7 === 0 ? 'canceled' : 'active'));
      if (k % 11 === 0) await j.addCard(card(`id-${k}`, 'completed'));
      if (k % 13 === 0) await j.addCard(card(`id-${k}`, 'active', 500));
      if (k % 17 === 0) await j.addCard(card(`id-${k}`, 'archived'));
    }
    await j.addCard(card('other-run', 'active'));
    await j.addCard(card(null, 'active'));
    await j.countInto(path, delivery);
  } finally {
    await j.close();
  }
  return delivery;
}

describe('CardJoin', () => {
  it('counts a template’s cards into the run’s rows, on disk, as the table did', async () => {
    const rows = 3000;
    const delivery = await countTemplate(rows, 'memory');
    for (let k = 0; k < rows; k++) {
      const expected = k % 3 === 0 ? 0 : 1 + (k % 11 === 0 ? 1 : 0) + (k % 17 === 0 ? 1 : 0);
      expect(delivery.counts[k]).toBe(expected);
      if (k % 3 !== 0) expect(delivery.hasEarlierCard(k)).toBe(k % 13 === 0);
    }
    expect(delivery.outcome(1)).toBe('delivered');
    expect(delivery.outcome(7)).toBe('cancelled');
    expect(delivery.statusText(34)).toBe('active|other');
    expect(delivery.byStatus.get('other')).toBe(
      Math.floor((rows - 1) / 17) - Math.floor((rows - 1) / 51),
    );
  });

  it('keeps a large look’s rows on disk and reads them back in order, equal to the arrays', async () => {
    // More rows than one sorter chunk (128 Ki records), so the rows are spilled and merged.
    const rows = 300_000;
    const memory = await countTemplate(rows, 'memory');
    const disk = await countTemplate(rows, 'disk');
    expect(disk.counts.length).toBe(0);
    expect(disk.withCards()).toBe(memory.withCards());
    expect(disk.cards()).toBe(memory.cards());
    expect(disk.outcomes()).toEqual(memory.outcomes());
    expect(disk.openScope()).toEqual(memory.openScope());
    expect([...disk.byStatus]).toEqual([...memory.byStatus]);
    const reader = await disk.reader();
    let differ = 0;
    // Ask in increasing order, skipping some positions as a sample's reading does.
    for (let k = 0; k < rows; k += 1 + (k % 5 === 0 ? 2 : 0)) {
      const row = await rowAt(reader, k);
      if (
        row.count !== memory.counts[k] ||
        row.open !== memory.open[k] ||
        row.bits !== memory.statuses[k]
      )
        differ++;
    }
    await reader.close();
    expect(differ).toBe(0);
    await expect(disk.reader()).rejects.toThrow(/read twice/);
  });

  it('starts each look empty: the last look’s rows are gone once the next begins', async () => {
    const disk = await countTemplate(10, 'disk');
    const first = disk.withCards();
    await disk.begin();
    expect(disk.withCards()).toBe(0);
    expect(disk.outcomes().none).toBe(10);
    const reader = await disk.reader();
    expect(await rowAt(reader, 4)).toEqual({ count: 0, open: 0, bits: 0 });
    await reader.close();
    await disk.close();
    expect(first).toBeGreaterThan(0);
  });
});
