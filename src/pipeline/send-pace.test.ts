import { describe, expect, it } from 'vitest';
import { parseRate, parseWindow } from '../campaign/schedule.js';
import type { Part } from '../model/part.js';
import { Pacer } from './send-pace.js';
import type { ResolvedSendOptions } from './send-options.js';

/** A fake clock that sleeping moves forward, and the waits it was asked for. */
function clock(startIso: string) {
  let at = Date.parse(startIso);
  const waits: number[] = [];
  return {
    waits,
    now: () => new Date(at),
    sleep: (ms: number) => {
      waits.push(ms);
      at += ms;
      return Promise.resolve();
    },
  };
}

const part = (rows: number) => ({ rows }) as Part;

function pacer(rate: string | null, window: string | null, c: ReturnType<typeof clock>) {
  const options = {
    pace: rate === null ? null : parseRate(rate),
    window: window === null ? null : parseWindow(window, 'UTC'),
    now: c.now,
    sleep: c.sleep,
    signal: undefined,
  } as unknown as ResolvedSendOptions;
  return { pacer: new Pacer(options), options };
}

describe('Pacer (--rate, --window)', () => {
  it('requests each part no earlier than its slot: the rows before it and its own', async () => {
    const c = clock('2026-12-07T10:00:00Z');
    const { pacer: p } = pacer('100/min', null, c);
    await p.before(part(100), false); // slot 1: at once
    await p.before(part(100), false); // slot 2: a minute after the start
    await p.before(part(50), false); // rows 201–250 fall in slot 3
    expect(c.waits).toEqual([60_000, 60_000]);
  });

  it('lets a part uploaded by an earlier run through without waiting or counting', async () => {
    const c = clock('2026-12-07T10:00:00Z');
    const { pacer: p } = pacer('100/min', null, c);
    await p.before(part(100), true);
    await p.before(part(100), false);
    expect(c.waits).toEqual([]);
  });

  it('stops before a part once the window has closed (PAUSED, naming when it opens)', async () => {
    const c = clock('2026-12-07T16:59:00Z');
    const { pacer: p, options } = pacer('100/min', '09:00-17:00', c);
    expect(() => {
      Pacer.refuseOutside(options);
    }).not.toThrow();
    await p.before(part(100), false);
    await expect(p.before(part(100), false)).rejects.toMatchObject({ code: 'PAUSED' });
    expect(() => {
      Pacer.refuseOutside(options);
    }).toThrow(/opens at/);
  });

  it('plans slots and the last one due for the report', () => {
    expect(Pacer.plan(parseRate('1000/h'), 2500, new Date('2026-12-07T10:00:00Z'))).toEqual({
      rows: 1000,
      slotMs: 3_600_000,
      slots: 3,
      expectedEnd: '2026-12-07T12:00:00.000Z',
    });
    expect(Pacer.plan(null, 2500, new Date())).toBeNull();
  });
});
