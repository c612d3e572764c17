import { describe, expect, it } from 'vitest';
import {
  describeOpening,
  insideWindow,
  nextOpening,
  oncePerText,
  parseOncePer,
  parseRate,
  parseWindow,
} from './schedule.js';

describe('campaign time words', () => {
  it('reads --once-per durations and refuses others', () => {
    expect(parseOncePer('forever')).toBeNull();
    expect(parseOncePer('6s')).toBe(6);
    expect(parseOncePer('12h')).toBe(43_200);
    expect(parseOncePer('30d')).toBe(2_592_000);
    for (const bad of ['0d', '-1d', '1w', '1.5d', '', '99999d', 'forever '])
      expect(() => parseOncePer(bad)).toThrow(/not a duration/);
    expect(oncePerText(2_592_000)).toBe('30d');
    expect(oncePerText(null)).toBe('forever');
  });

  it('reads --rate per minute or per hour', () => {
    expect(parseRate('20000/min')).toEqual({ rows: 20_000, slotMs: 60_000 });
    expect(parseRate('500000/h')).toEqual({ rows: 500_000, slotMs: 3_600_000 });
    for (const bad of ['0/min', '10/s', '10', 'fast'])
      expect(() => parseRate(bad)).toThrow(/not a pace/);
  });

  it('tells inside from outside a window, overnight ones and other time zones included', () => {
    const day = parseWindow('08:00-20:00', 'UTC');
    expect(insideWindow(day, new Date('2027-01-04T08:00:00Z'))).toBe(true);
    expect(insideWindow(day, new Date('2027-01-04T19:59:59Z'))).toBe(true);
    expect(insideWindow(day, new Date('2027-01-04T20:00:00Z'))).toBe(false);
    const night = parseWindow('22:00-06:00', 'UTC');
    expect(insideWindow(night, new Date('2027-01-04T23:30:00Z'))).toBe(true);
    expect(insideWindow(night, new Date('2027-01-04T05:59:00Z'))).toBe(true);
    expect(insideWindow(night, new Date('2027-01-04T12:00:00Z'))).toBe(false);
    // 09:00 in New York is 14:00 UTC in January.
    const ny = parseWindow('09:00-17:00', 'America/New_York');
    expect(insideWindow(ny, new Date('2027-01-04T13:59:00Z'))).toBe(false);
    expect(insideWindow(ny, new Date('2027-01-04T14:00:00Z'))).toBe(true);
    expect(() => parseWindow('9-17', 'UTC')).toThrow(/not a time window/);
    expect(() => parseWindow('08:00-08:00', 'UTC')).toThrow(/not a time window/);
    expect(() => parseWindow('08:00-20:00', 'Mars/Olympus')).toThrow(/not a time zone/);
  });

  it('names when a closed window opens next, in the zone and in UTC', () => {
    const w = parseWindow('06:00-09:00', 'Europe/London');
    const at = nextOpening(w, new Date('2027-07-04T09:00:30Z')); // 10:00:30 BST
    expect(at.toISOString()).toBe('2027-07-05T05:00:00.000Z');
    expect(describeOpening(w, at)).toBe(
      '5 Jul 2027, 06:00 Europe/London (2027-07-05T05:00:00.000Z)',
    );
    expect(nextOpening(w, new Date('2027-01-05T05:59:00Z')).toISOString()).toBe(
      '2027-01-05T06:00:00.000Z',
    );
  });
});
