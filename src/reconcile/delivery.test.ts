import { describe, expect, it } from 'vitest';
import type { CardQuery, CardSummary } from '../api/cards.js';
import type { CardsApi } from '../api/client.js';
import { allCards, Delivery, eachLimited, wilson } from './delivery.js';

const card = (status: string, created: number | null = null): CardSummary =>
  ({ cardInstanceId: `c-${Math.random()}`, status, created }) as CardSummary;

describe('Delivery (a row’s cards → its outcome)', () => {
  it('counts this run’s cards, and keeps what a cancel would still act on', () => {
    const d = new Delivery(3);
    d.add(0, card('active'));
    d.add(0, card('canceled'));
    d.add(1, card('cancelled'));
    expect([...d.counts]).toEqual([2, 1, 0]);
    expect([...d.open]).toEqual([1, 0, 0]);
    expect(d.withCards()).toBe(2);
    expect(d.cards()).toBe(3);
    expect(d.outcome(0)).toBe('delivered');
    expect(d.outcome(1)).toBe('cancelled');
    expect(d.outcome(2)).toBe('none');
    expect(d.statusText(0)).toBe('active|canceled');
  });

  it('a card made before the run is an earlier send’s (reused id): never counted, never cancelled', () => {
    const d = new Delivery(2, 1_000);
    d.add(0, card('active', 500));
    expect(d.counts[0]).toBe(0);
    expect(d.open[0]).toBe(0);
    expect(d.hasEarlierCard(0)).toBe(true);
    expect(d.outcome(0)).toBe('reused');
    d.add(0, card('active', 2_000));
    expect(d.outcome(0)).toBe('delivered');
    expect(d.statusText(0)).toBe('active|earlier-card');
  });

  it('orders outcomes: delivered, cancelled, expired, other; unknown statuses are other', () => {
    const d = new Delivery(3);
    d.add(0, card('expired'));
    d.add(0, card('canceled'));
    d.add(1, card('expired'));
    d.add(2, card('mystery'));
    expect([0, 1, 2].map((k) => d.outcome(k))).toEqual(['cancelled', 'expired', 'other']);
    expect(d.outcomes()).toMatchObject({ cancelled: 1, expired: 1, other: 1, delivered: 0 });
  });

  it('ignores positions outside the run, and saturates counts instead of wrapping', () => {
    const d = new Delivery(1);
    d.add(-1, card('active'));
    d.add(1, card('active'));
    expect(d.cards()).toBe(0);
    for (let k = 0; k < 70_000; k++) d.add(0, card('active'));
    expect(d.counts[0]).toBe(65_535);
  });
});

/** A Cards API that answers pages from a list, or lies as told. */
function cardsApi(pages: (offset: number) => CardSummary[]): CardsApi {
  return {
    listCards: (_q: CardQuery, _limit: number, offset: number) => Promise.resolve(pages(offset)),
  } as unknown as CardsApi;
}

describe('allCards (paging the Cards API, bounded)', () => {
  it('reads pages until a short one', async () => {
    const all = Array.from({ length: 250 }, () => card('active'));
    const api = cardsApi((offset) => all.slice(offset, offset + 100));
    const d = new Delivery(1);
    const got: CardSummary[] = [];
    for await (const c of allCards(api, {}, d, { pageSize: 100, maxPages: 10 })) got.push(c);
    expect(got).toHaveLength(250);
    expect(d.requests).toBe(3);
  });

  it('stops a server that ignores the offset, and one that never stops paging', async () => {
    const same = Array.from({ length: 100 }, () => card('active'));
    const read = async (api: CardsApi) => {
      for await (const _ of allCards(api, {}, new Delivery(1), { pageSize: 100, maxPages: 5 }));
    };
    await expect(read(cardsApi(() => same))).rejects.toThrow(/does not page/);
    await expect(
      read(cardsApi(() => Array.from({ length: 100 }, () => card('active')))),
    ).rejects.toThrow(/kept answering full pages past 500 cards/);
  });
});

describe('wilson', () => {
  it('brackets the share, and says nothing of an empty sample', () => {
    const w = wilson(90, 100);
    expect(w.share).toBe(0.9);
    expect(w.low).toBeGreaterThan(0.82);
    expect(w.high).toBeLessThan(0.95);
    expect(wilson(0, 0)).toEqual({ share: 0, low: 0, high: 1 });
  });
});

describe('eachLimited', () => {
  it('hands each item of an async generator to one worker, a few at a time', async () => {
    async function* items() {
      for (let k = 0; k < 200; k++) {
        if (k % 7 === 0) await new Promise((r) => setTimeout(r, 1));
        yield k;
      }
    }
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    await eachLimited(items(), 8, async (k) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, k % 3));
      seen.push(k);
      running--;
    });
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, k) => k));
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThan(1);
  });
});
