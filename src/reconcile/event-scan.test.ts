import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../model/random.js';
import { EventScanner, NESTED } from './event-scan.js';

const KEYS = [
  'analyticsEvent',
  'event',
  'name',
  'type',
  'eventName',
  'timestamp',
  'time',
  'createdAt',
];
const HOLDERS = ['properties', 'payload', 'metadata'];
const ID = 'flowInvocationId';

/** What the scanner should give for a line, from JSON.parse: null when it is not an object. */
function expected(line: string): Record<string, unknown> | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const flat = (v: unknown) => (v !== null && typeof v === 'object' ? NESTED : v);
  const out: Record<string, unknown> = {};
  const obj = o as Record<string, unknown>;
  for (const k of [...KEYS, ID]) if (Object.hasOwn(obj, k)) out[k] = flat(obj[k]);
  for (const h of HOLDERS) {
    if (!Object.hasOwn(obj, h)) continue;
    const v = obj[h];
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner: Record<string, unknown> = {};
      if (Object.hasOwn(v, ID)) inner[ID] = flat((v as Record<string, unknown>)[ID]);
      out[h] = inner;
    } else out[h] = flat(v);
  }
  return out;
}

function generator(random: () => number) {
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const space = () => pickOf(['', '', '', ' ', '\t', ' \r ', '  ']);
  const text = () =>
    pickOf([
      'card-published',
      'card-error',
      'id-1',
      '2026-12-07T10:00:00Z',
      '',
      'a\\"b',
      'tab\\tnew\\nline',
      '\\u00e9t\\u00E9',
      'üñï',
      '\\ud83d\\ude00',
      '\\\\',
      '\\/',
      'x'.repeat(40),
    ]);
  const number = () =>
    pickOf(['0', '-0', '12', '-3.5', '1e3', '2E-2', '1.25e+10', '1765101600', '1765101600123']);
  const value = (depth: number): string => {
    const r = random();
    if (r < 0.35) return `"${text()}"`;
    if (r < 0.55) return number();
    if (r < 0.62) return pickOf(['true', 'false', 'null']);
    if (depth > 3) return '"deep"';
    if (r < 0.82) return object(depth + 1);
    const n = Math.floor(random() * 4);
    return `[${space()}${Array.from({ length: n }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`;
  };
  const key = () =>
    random() < 0.6
      ? pickOf([...KEYS, ...HOLDERS, ID])
      : pickOf(['other', 'x', 'k\\u0065y', 'naMe', '']);
  const object = (depth: number): string => {
    const n = Math.floor(random() * 7);
    const members = Array.from(
      { length: n },
      () => `${space()}"${key()}"${space()}:${space()}${value(depth)}${space()}`,
    );
    return `{${members.join(',')}${n === 0 ? space() : ''}}`;
  };
  return { line: () => `${space()}${object(0)}${space()}`, random };
}

/** One byte changed, dropped or added: most such lines are not JSON any more. */
function mutate(line: string, random: () => number): string {
  const bytes = [...Buffer.from(line)];
  const at = Math.floor(random() * (bytes.length + 1));
  const chars = [
    0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x2e, 0x65, 0x2d, 0x01, 0xff, 0x75,
  ];
  const c = chars[Math.floor(random() * chars.length)] as number;
  const r = random();
  if (r < 0.4) bytes.splice(at, 1);
  else if (r < 0.7) bytes.splice(at, 0, c);
  else bytes[Math.min(at, bytes.length - 1)] = c;
  return Buffer.from(bytes).toString('latin1');
}

describe('EventScanner', () => {
  const scanner = new EventScanner(KEYS, ['card-published', 'card-error', 'id']);
  /** Scans a line from inside a larger buffer, as lines are read in place. */
  const scan = (line: string | Buffer) => {
    const bytes = typeof line === 'string' ? Buffer.from(line) : line;
    const buf = Buffer.concat([Buffer.from('0.5e'), bytes, Buffer.from('.5e+1"}\n')]);
    return scanner.scan(buf, 4, 4 + bytes.length);
  };

  it('keeps the members JSON.parse would give, on generated events', () => {
    const g = generator(mulberry32(11));
    for (let k = 0; k < 20_000; k++) {
      const line = g.line();
      const want = expected(line);
      expect(want, line).not.toBeNull();
      expect(scan(line), line).toEqual(want);
    }
  });

  it('gives a line up only where JSON.parse would not read an object from it, on mutated lines', () => {
    const g = generator(mulberry32(12));
    let givenUp = 0;
    for (let k = 0; k < 40_000; k++) {
      const bytes = Buffer.from(mutate(g.line(), g.random), 'latin1');
      const got = scan(bytes);
      const want = expected(bytes.toString('utf8'));
      if (got === null) {
        givenUp++;
        expect(want, bytes.toString('latin1')).toBeNull();
      } else expect(got, bytes.toString('latin1')).toEqual(want);
    }
    expect(givenUp).toBeGreaterThan(10_000);
  });

  it('reads the last of a repeated key, ids inside holders, and not past the line', () => {
    expect(
      scan('{"event":"a","event":"card-error","properties":{"flowInvocationId":"i"}}'),
    ).toEqual({
      event: 'card-error',
      properties: { flowInvocationId: 'i' },
    });
    expect(scan('{"payload":[1],"metadata":"m","flowInvocationId":7}')).toEqual({
      payload: NESTED,
      metadata: 'm',
      flowInvocationId: 7,
    });
    // The bytes around the line (a number's tail, a quote) are never read.
    expect(scan('{"time":1')).toBeNull();
    expect(scan('{"time":1}')).toEqual({ time: 1 });
    expect(scan('{"name":"x')).toBeNull();
    expect(scan('[1,2]')).toBeNull();
    expect(scan(`${'{"a":'.repeat(70)}1${'}'.repeat(70)}`)).toBeNull();
    expect(scan('\ufeff{"name":"x"}')).toBeNull();
  });
});
