import { describe, expect, it } from 'vitest';
import {
  checkBoolean,
  checkDate,
  checkDuration,
  checkNumber,
  checkPlatforms,
  checkPriority,
  checkStreamIds,
  hasSurroundingSpace,
  parseTimestamp,
} from './cells.js';

type Check = (buf: Buffer, s: number, e: number) => string | null;

/** Runs a check on a value placed in the middle of a larger buffer, as fields are. */
function run(check: Check, value: string): string | null {
  const buf = Buffer.from(`<<${value}>>`);
  return check(buf, 2, buf.length - 2);
}

describe.each<[string, Check, string[], string[]]>([
  [
    'number',
    checkNumber,
    ['0', '-1', '42', '3.14', '-0.5', '1e3', '2.5E-7', '007', '1e+10'],
    [
      '',
      '1,000',
      '1 000',
      ' 1',
      '+1',
      '.5',
      '5.',
      '1e',
      '€5',
      '5%',
      '0x10',
      'NaN',
      'Infinity',
      '1e999',
      '--1',
      '1.2.3',
    ],
  ],
  [
    'date',
    checkDate,
    [
      '2026-12-31',
      '2024-02-29',
      '2026-12-31T09:30',
      '2026-12-31T09:30:15',
      '2026-12-31T09:30:15.123Z',
      '2026-12-31T09:30+10:00',
      '2026-12-31T23:59:59-05:30',
    ],
    [
      '2026-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-04-31',
      '31/12/2026',
      '2026/12/31',
      '2026-1-5',
      '2026-12-31 09:30',
      '2026-12-31T24:00',
      '2026-12-31T09:60',
      '2026-12-31T09:30:61',
      '2026-12-31T09:30Z+',
      '2026-12-31T09:30+1000',
      '45123',
      'soon',
      '2026-12-31T',
    ],
  ],
  ['boolean', checkBoolean, ['true', 'false'], ['TRUE', 'False', ' tRue', '1', '0', 'yEs', '']],
  ['priority', checkPriority, ['1', '5', '10'], ['0', '11', '01', '1.0', '-1', ' 1', 'high', '']],
  [
    'duration',
    checkDuration,
    ['PT30M', 'P2D', 'P1W', 'P1Y2M3DT4H5M6S', 'PT0.5S', 'PT1H30M', 'P0DT1H'],
    [
      'P',
      'PT',
      'P0D',
      'PT0S',
      '31M',
      'P1H',
      'PT1D',
      'P1M2Y',
      'P1.5DT1H',
      'pt30m',
      'P-1D',
      'P1DT',
      '',
    ],
  ],
  [
    'stream ids',
    checkStreamIds,
    ['a', 'a|b|c', 'stream-1|stream_2'],
    ['a||b', '|a', 'a|', ' a', 'a| b', '|'],
  ],
  [
    'platforms',
    checkPlatforms,
    ['Web', 'iOS', 'Android', 'iOS|Android', 'Web|iOS|Android'],
    ['ios', 'web', 'Web|Web', 'Windows', 'iOS|', ''],
  ],
])('%s cells', (_name, check, valid, invalid) => {
  it.each(valid)('accepts %j', (value) => {
    expect(run(check, value)).toBeNull();
  });
  it.each(invalid)('rejects %j with a reason that does not quote it', (value) => {
    const reason = run(check, value);
    expect(reason).toEqual(expect.any(String));
    if (value.length > 2) expect(reason).not.toContain(value);
  });
});

describe('timestamps', () => {
  it.each([
    ['2026-12-31T23:59:00Z', Date.UTC(2026, 11, 31, 23, 59)],
    ['2027-01-01T09:59:00+10:00', Date.UTC(2026, 11, 31, 23, 59)],
    ['2026-12-31T18:29:00.500-05:30', Date.UTC(2026, 11, 31, 23, 59, 0, 500)],
  ])('reads %s as an instant', (value, expected) => {
    const buf = Buffer.from(value);
    expect(parseTimestamp(buf, 0, buf.length)).toBe(expected);
  });

  it.each(['2026-12-31', '2026-12-31T10:00', '2026-12-31T10:00:00'])(
    'requires a time and zone in %s',
    (value) => {
      const buf = Buffer.from(value);
      expect(typeof parseTimestamp(buf, 0, buf.length)).toBe('string');
    },
  );
});

describe('surrounding space', () => {
  it.each([
    [' a', true],
    ['a ', true],
    ['\ta', true],
    ['\u00a0a', true],
    ['a\u3000', true],
    ['a b', false],
    ['é', false],
  ])('%j → %s', (value, expected) => {
    const buf = Buffer.from(value);
    expect(hasSurroundingSpace(buf, 0, buf.length)).toBe(expected);
  });
});
