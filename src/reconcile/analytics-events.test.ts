import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  emptyStats,
  eventTime,
  readCsvEvents,
  readNdjson,
  EVENT_KIND,
} from './analytics-events.js';

async function collect(
  text: string | Buffer[],
  reader: typeof readNdjson,
): Promise<{ events: [number, string, number][]; stats: ReturnType<typeof emptyStats> }> {
  const stats = emptyStats();
  const events: [number, string, number][] = [];
  const chunks = typeof text === 'string' ? [Buffer.from(text)] : text;
  await reader(Readable.from(chunks), stats, (kind, id, at) => {
    events.push([kind, id, at]);
  });
  return { events, stats };
}

const T = '2026-12-07T10:00:00.000Z';
const MS = Date.parse(T);

describe('analytics event reader', () => {
  it('reads every documented place of name, id and time', async () => {
    const lines = [
      { analyticsEvent: 'card-published', timestamp: T, properties: { flowInvocationId: 'a' } },
      { event: 'card-error', time: MS, payload: { flowInvocationId: 'b' } },
      { name: 'card-cancelled', createdAt: MS / 1000, metadata: { flowInvocationId: 'c' } },
      { type: 'card-displayed', eventTime: T, flowInvocationId: 'd' },
    ];
    const { events, stats } = await collect(
      lines.map((l) => JSON.stringify(l)).join('\r\n'),
      readNdjson,
    );
    expect(events).toEqual([
      [EVENT_KIND['card-published'], 'a', MS],
      [EVENT_KIND['card-error'], 'b', MS],
      [EVENT_KIND['card-cancelled'], 'c', MS],
      [EVENT_KIND['card-displayed'], 'd', MS],
    ]);
    expect(stats).toMatchObject({ lines: 4, events: 4, unreadable: 0 });
  });

  it('counts what it cannot use and keeps keys, never values, of the first unreadable line', async () => {
    const text = [
      '{"analyticsEvent":"user-login","timestamp":"' + T + '"}',
      '{"analyticsEvent":"card-published","timestamp":"' + T + '"}',
      '{"secretValue":"s3cr3t-member@example.test","other":1}',
      'not json at all s3cr3t',
      '[1,2]',
      '',
    ].join('\n');
    const { events, stats } = await collect(text, readNdjson);
    expect(events).toEqual([]);
    expect(stats).toMatchObject({ lines: 5, otherKinds: 1, withoutId: 1, unreadable: 3 });
    expect(stats.unreadableKeys).toBe('secretValue, other');
    expect(JSON.stringify(stats)).not.toContain('s3cr3t');
  });

  it('reads lines split across chunks, and skips a line over 1 MiB without holding it', async () => {
    const good = JSON.stringify({
      analyticsEvent: 'card-published',
      timestamp: T,
      flowInvocationId: 'x',
    });
    const chunks = [
      Buffer.from(good.slice(0, 10)),
      Buffer.from(`${good.slice(10)}\n{"pad":"`),
      ...Array.from({ length: 5 }, () => Buffer.alloc(300_000, 97)),
      Buffer.from(`"}\n${good}\n`),
    ];
    const { events, stats } = await collect(chunks, readNdjson);
    expect(events.map((e) => e[1])).toEqual(['x', 'x']);
    expect(stats).toMatchObject({ lines: 3, events: 2, unreadable: 1 });
    expect(stats.unreadableKeys).toBe('(a line over 1 MiB)');
  });

  it('reads a long line carried over several chunks, its copy grown as it comes', async () => {
    const long = JSON.stringify({
      analyticsEvent: 'card-error',
      timestamp: T,
      note: 'n'.repeat(700_000),
      properties: { flowInvocationId: 'long' },
    });
    const cut = [0, 500, 3000, 250_000, 699_000, long.length];
    const chunks = cut.slice(1).map((end, k) => Buffer.from(long.slice(cut[k], end)));
    chunks.push(Buffer.from('\n'));
    const { events, stats } = await collect(chunks, readNdjson);
    expect(events.map((e) => e[1])).toEqual(['long']);
    expect(stats).toMatchObject({ lines: 1, events: 1, unreadable: 0 });
  });

  it('reads CSV with dotted or flat property columns', async () => {
    const text = `analyticsEvent,timestamp,userId,properties.flowInvocationId\ncard-published,${T},u1,a\ncard-expired,${T},"u,2",b\n`;
    const { events } = await collect(text, readCsvEvents);
    expect(events).toEqual([
      [EVENT_KIND['card-published'], 'a', MS],
      [EVENT_KIND['card-expired'], 'b', MS],
    ]);
    const flat = await collect(
      `event,time,flowInvocationId\ncard-completed,${MS},c\n`,
      readCsvEvents,
    );
    expect(flat.events).toEqual([[EVENT_KIND['card-completed'], 'c', MS]]);
  });

  it('refuses a CSV it cannot parse without quoting its cells', async () => {
    await expect(
      collect('event,time,flowInvocationId\n"s3cr3t"x,1,2\n', readCsvEvents),
    ).rejects.toThrow(
      /^An analytics export file is not CSV atomic-bulk can read \(CSV_[A-Z_]+\)\.$/,
    );
  });

  it('takes times as ISO text, seconds or milliseconds', () => {
    expect(eventTime(T)).toBe(MS);
    expect(eventTime(MS)).toBe(MS);
    expect(eventTime(MS / 1000)).toBe(MS);
    expect(eventTime(String(MS))).toBe(MS);
    expect(eventTime('yesterday')).toBeNull();
    expect(eventTime(Infinity)).toBeNull();
  });
});
