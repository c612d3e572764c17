import { describe, expect, it } from 'vitest';
import type { PartReport } from '../model/report.js';
import { PartTally } from './part-tally.js';

const part = (number: number, rows: number, status = 'uploaded') =>
  ({ number, rows, status }) as PartReport;

describe('PartTally (outcomes by the part that sent the row)', () => {
  it('places each row in its part by position, parts in number order', () => {
    const tally = new PartTally([part(2, 2), part(1, 3)], 5, ['delivered', 'none']);
    ['delivered', 'delivered', 'none', 'none', 'delivered'].forEach((o, k) => {
      tally.add(k, o);
    });
    expect(tally.table()).toEqual([
      { part: 1, rows: 3, byOutcome: { delivered: 2, none: 1 } },
      { part: 2, rows: 2, byOutcome: { delivered: 1, none: 1 } },
    ]);
  });

  it('leaves out parts that were not uploaded (their rows are not in invocations.csv)', () => {
    const tally = new PartTally([part(1, 2), part(2, 2, 'failed'), part(3, 1)], 3, ['none']);
    [0, 1, 2].forEach((k) => {
      tally.add(k, 'none');
    });
    expect(tally.table()?.map((p) => [p.part, p.byOutcome.none])).toEqual([
      [1, 2],
      [3, 1],
    ]);
  });

  it('gives no table when the parts do not account for the rows (an edited report)', () => {
    const tally = new PartTally([part(1, 2)], 3, ['none']);
    tally.add(0, 'none');
    expect(tally.table()).toBeNull();
  });
});
