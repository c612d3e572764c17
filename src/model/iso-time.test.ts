import { describe, expect, it } from 'vitest';
import { mulberry32 } from './random.js';
import { IsoTimes } from './iso-time.js';

describe('IsoTimes', () => {
  it('formats as toISOString does, across days, years and the epoch', () => {
    const times = new IsoTimes();
    const random = mulberry32(3);
    const samples = [0, -1, 1, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999];
    for (let k = 0; k < 20_000; k++) samples.push(Math.floor((random() - 0.2) * 4e12));
    let at = Date.UTC(2026, 11, 7, 23, 59, 58);
    for (let k = 0; k < 5000; k++) samples.push((at += Math.floor(random() * 997)));
    for (const ms of samples) expect(times.format(ms)).toBe(new Date(ms).toISOString());
    expect(() => times.format(8.64e15 + 1)).toThrow(RangeError);
  });
});
