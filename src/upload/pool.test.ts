import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pool } from './pool.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it('processes every item once, with at most `limit` in flight and `limit + ahead` produced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 2 }),
        async (delays, limit, ahead) => {
          let produced = 0;
          let finished = 0;
          let inFlight = 0;
          let maxInFlight = 0;
          let maxAhead = 0;
          async function* source() {
            for (const [i, d] of delays.entries()) {
              await tick(d);
              produced++;
              maxAhead = Math.max(maxAhead, produced - finished);
              yield i;
            }
          }
          const results: number[] = [];
          for await (const r of pool(
            source(),
            limit,
            async (i: number) => {
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              await tick(delays[(i * 7) % delays.length] ?? 0);
              inFlight--;
              finished++;
              return i;
            },
            ahead,
          )) {
            results.push(r);
          }
          expect(results.sort((a, b) => a - b)).toEqual(delays.map((_, i) => i));
          expect(maxInFlight).toBeLessThanOrEqual(limit);
          expect(maxAhead).toBeLessThanOrEqual(limit + ahead);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('stops pulling after stop() but yields the work already started', async () => {
    let produced = 0;
    async function* source() {
      for (let i = 0; i < 100; i++) {
        produced++;
        yield i;
        await tick(1);
      }
    }
    const p = pool(source(), 2, async (i: number) => {
      await tick(5);
      return i;
    });
    const results: number[] = [];
    for await (const r of p) {
      results.push(r);
      if (results.length === 1) p.stop();
    }
    expect(produced).toBeLessThan(6);
    expect(results.length).toBeLessThanOrEqual(produced);
  });
});

describe('pool when its source fails', () => {
  it('yields the work in flight, starts nothing new, then throws the source error', async () => {
    const started: number[] = [];
    async function* source(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('input changed');
    }
    const results: number[] = [];
    const run = pool(
      source(),
      1,
      async (n: number) => {
        started.push(n);
        await new Promise((r) => setTimeout(r, 30));
        return n;
      },
      1,
    );
    await expect(
      (async () => {
        for await (const r of run) results.push(r);
      })(),
    ).rejects.toThrow('input changed');
    // Part 1 was in flight when the source failed: reported. Part 2 was cut but waited
    // for a slot: not started after the failure.
    expect(results).toEqual(started);
    expect(results).toContain(1);
  });
});
