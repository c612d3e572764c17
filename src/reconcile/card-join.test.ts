import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CardJoin } from './card-join.js';
import { Delivery } from './delivery.js';

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

describe('CardJoin', () => {
  it('counts a template’s cards into the run’s rows, on disk, as the table did', async () => {
    const rows = 3000;
    const ids = Array.from({ length: rows }, (_, k) => `id-${k}`);
    const path = await invocationsFile(ids);
    const delivery = new Delivery(rows, 1000);
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
});
