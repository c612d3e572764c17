import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { forEach } from '../files/sorted-runs.js';
import { mulberry32 } from '../model/random.js';
import { EVENT_KIND } from './analytics-events.js';
import {
  AnalyticsJoin,
  decodeRow,
  ROW_WIDTH,
  sortRunRows,
  type RowResult,
} from './analytics-join.js';

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'analytics-join-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

const K = EVENT_KIND;

describe('AnalyticsJoin', () => {
  it('joins the same with the run’s rows sorted once for every look as with rows added', async () => {
    const d = await dir();
    const rows = 300_000;
    const path = join(d, 'invocations.csv');
    await writeFile(
      path,
      `line,flowInvocationId\n${Array.from({ length: rows }, (_, k) => `${k + 2},id-${k}`).join('\n')}\n`,
    );
    const random = mulberry32(3);
    const events = Array.from({ length: 50_000 }, () => ({
      id: `id-${Math.floor(random() * rows * 1.1)}`,
      kind: K['card-published'],
      at: 1_000 + Math.floor(random() * 1_000_000),
    }));
    const results = async (j: AnalyticsJoin, sorted?: string[]) => {
      for (const e of events) await j.addEvent(e.kind, e.id, e.at);
      const out: string[] = [];
      const { rows: cursor, counts } = await j.join(sorted !== undefined ? { rows: sorted } : {});
      await forEach(cursor, ROW_WIDTH, (buf, at) => {
        out.push(buf.toString('hex', at, at + ROW_WIDTH));
      });
      return { out, counts };
    };
    const added = new AnalyticsJoin(await dir(), null);
    for (let k = 0; k < rows; k++) await added.addRow(`id-${k}`, k);
    const a = await results(added);
    // The sorted rows serve two looks (a --wait's), each equal to the join of added rows.
    const sorted = await sortRunRows(path, d);
    expect(sorted.length).toBeGreaterThan(1);
    for (let look = 0; look < 2; look++) {
      const b = await results(new AnalyticsJoin(await dir(), null), sorted);
      expect(b.counts).toEqual(a.counts);
      expect(b.out.length).toBe(rows);
      expect(b.out).toEqual(a.out);
    }
  });

  it('matches a model over thousands of rows and events, spilling both sides to disk', async () => {
    const d = await dir();
    const random = mulberry32(7);
    const rows = 5000;
    const notBefore = 1_000_000;
    const join1 = new AnalyticsJoin(d, notBefore, 512);
    const model = new Map<number, { kinds: number[]; times: number[] }>();
    for (let p = 0; p < rows; p++) {
      await join1.addRow(`id-${p}`, p);
      model.set(p, { kinds: [], times: [] });
    }
    const kinds = Object.values(K);
    for (let e = 0; e < 20_000; e++) {
      const p = Math.floor(random() * rows * 1.2);
      const kind = kinds[Math.floor(random() * kinds.length)] as number;
      const at = notBefore - 5000 + Math.floor(random() * 1_000_000);
      await join1.addEvent(kind, `id-${p}`, at);
      const m = model.get(p);
      if (m !== undefined && at >= notBefore) {
        m.kinds.push(kind);
        m.times.push(at);
      }
    }
    const { rows: cursor, counts } = await join1.join();
    const results: RowResult[] = [];
    await forEach(cursor, ROW_WIDTH, (buf, at) => {
      results.push(decodeRow(buf, at));
    });
    expect(results.map((r) => r.position)).toEqual([...Array(rows).keys()]);
    for (const r of results) {
      const m = model.get(r.position)!;
      const n = (k: number) => m.kinds.filter((x) => x === k).length;
      expect(r.events).toBe(m.kinds.length);
      expect(r.published).toBe(n(K['card-published']));
      expect(r.displayed).toBe(n(K['card-displayed']));
      expect(r.first).toBe(m.times.length === 0 ? null : Math.min(...m.times));
      expect(r.last).toBe(m.times.length === 0 ? null : Math.max(...m.times));
    }
    expect(Object.values(counts.byOutcome).reduce((a, b) => a + b, 0)).toBe(rows);
    // Only the results' sorted runs are left until the caller removes the folder.
    expect((await readdir(d)).length).toBeGreaterThan(0);
  });

  it('decides a row by its events, and ignores an earlier send’s', async () => {
    const d = await dir();
    const j = new AnalyticsJoin(d, 100);
    const cases: [string, [number, number][], string][] = [
      [
        'pub',
        [
          [K['card-published'], 200],
          [K['card-displayed'], 300],
        ],
        'published',
      ],
      [
        'pub-cancelled',
        [
          [K['card-published'], 200],
          [K['card-cancelled'], 300],
        ],
        'cancelled',
      ],
      [
        'two-one-left',
        [
          [K['card-published'], 200],
          [K['card-published'], 210],
          [K['card-expired'], 300],
        ],
        'published',
      ],
      [
        'expired',
        [
          [K['card-published'], 200],
          [K['card-expired'], 300],
        ],
        'expired',
      ],
      ['error', [[K['card-error'], 200]], 'error'],
      ['embargoed', [[K['card-embargoed'], 200]], 'embargoed'],
      ['earlier-only', [[K['card-published'], 50]], 'none'],
      ['nothing', [], 'none'],
    ];
    for (const [p, [id]] of cases.entries()) await j.addRow(id, p);
    await j.addRow('pub', cases.length);
    for (const [id, events] of cases)
      for (const [kind, at] of events) await j.addEvent(kind, id, at);
    await j.addEvent(K['card-published'], 'not-in-run', 200);
    const { rows, counts } = await j.join();
    const out: string[] = [];
    await forEach(rows, ROW_WIDTH, (buf, at) => {
      out.push(decodeRow(buf, at).outcome);
    });
    expect(out).toEqual([...cases.map((c) => c[2]), 'published']);
    expect(counts.earlier).toBe(1);
  });
});
