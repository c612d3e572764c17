import { describe, expect, it } from 'vitest';
import { InvocationIds } from './invocation-ids.js';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('invocation ids', () => {
  it('are RFC 9562 version-8 UUIDs', () => {
    const ids = new InvocationIds('run', 'flow', 'live');
    for (const n of [1, 2, 255, 256, 65_537, 2 ** 32 + 5]) expect(ids.idFor(n)).toMatch(UUID_V8);
  });

  it('are the same for the same run, flow, mode and record', () => {
    expect(new InvocationIds('run', 'flow', 'live').idFor(42)).toBe(
      new InvocationIds('run', 'flow', 'live').idFor(42),
    );
  });

  it.each([
    ['run id', new InvocationIds('run-2', 'flow', 'live')],
    ['flow', new InvocationIds('run', 'flow-2', 'live')],
    ['mode', new InvocationIds('run', 'flow', 'test')],
  ])('change with the %s', (_name, other) => {
    expect(other.idFor(42)).not.toBe(new InvocationIds('run', 'flow', 'live').idFor(42));
  });

  it('are distinct across a run', () => {
    const ids = new InvocationIds('run', 'flow', 'live');
    const n = 200_000;
    const records = Float64Array.from({ length: n }, (_, i) => i + 1);
    ids.prepare(records, n);
    const out = Buffer.alloc(36);
    const seen = new Set<string>();
    for (let k = 0; k < n; k++) {
      ids.write(k, out, 0);
      seen.add(out.toString('latin1'));
    }
    expect(seen.size).toBe(n);
  });
});
