/**
 * A better "did you mean" for an unknown card option, from what its column holds. The
 * header alone says `payload.cardOptions.expire` is closest to `expires`; a column full of
 * `P7D` means `expiresInterval`. The first cells of each such column are matched against
 * every card option's rule, and once the file is read the header issue's hint names the
 * option most cells fit. Messages describe the shape, never a value.
 */
import { FIELD_ESCAPED, unescapeQuotes, type RecordBatch } from '../model/record-batch.js';
import type { Issue } from '../model/issue.js';
import {
  checkDuration,
  checkPlatforms,
  checkPriority,
  checkStreamIds,
  parseTimestamp,
} from './cells.js';
import { CARD_OPTION_PREFIX, type CardOption, type ColumnPlan } from './columns.js';

const PIPE = 0x7c;

/** Cells sampled per column: enough to see a shape, cheap on any file. */
const SAMPLE_CELLS = 200;

/** Rules that tell options apart, most specific first; each with what it looks like. */
const SHAPES: [CardOption, string, (buf: Buffer, s: number, e: number) => boolean][] = [
  ['priority', 'whole numbers from 1 to 10', (b, s, e) => checkPriority(b, s, e) === null],
  ['expiresInterval', 'ISO 8601 durations', (b, s, e) => checkDuration(b, s, e) === null],
  ['expires', 'date-times with a zone', (b, s, e) => typeof parseTimestamp(b, s, e) === 'number'],
  ['targetPlatforms', 'platform lists', (b, s, e) => checkPlatforms(b, s, e) === null],
  // Any word is a valid stream id: only a list (with |) says stream ids.
  [
    'targetStreamIds',
    'lists of stream ids',
    (b, s, e) => b.subarray(s, e).includes(PIPE) && checkStreamIds(b, s, e) === null,
  ],
];

interface Sampled {
  column: number;
  issue: Issue;
  cells: number;
  fits: number[];
}

export class CardOptionGuess {
  private readonly columns: Sampled[];

  constructor(plan: ColumnPlan) {
    this.columns = plan.issues
      .filter((i) => i.code === 'unknown-card-option' && i.columnIndex !== null)
      .map((issue) => ({
        column: (issue.columnIndex as number) - 1,
        issue,
        cells: 0,
        fits: SHAPES.map(() => 0),
      }));
  }

  /** True while some column still wants cells. */
  get sampling(): boolean {
    return this.columns.some((c) => c.cells < SAMPLE_CELLS);
  }

  /** Looks at record i's cells in the unknown card-option columns. */
  sample(b: RecordBatch, i: number): void {
    const first = b.fieldFirst[i] as number;
    const width = b.fieldCount[i] as number;
    for (const c of this.columns) {
      if (c.cells >= SAMPLE_CELLS || c.column >= width) continue;
      const k = first + c.column;
      let buf = b.buf;
      let s = b.fStart[k] as number;
      let e = b.fEnd[k] as number;
      if (s === e) continue;
      if (((b.fFlags[k] as number) & FIELD_ESCAPED) !== 0) {
        buf = unescapeQuotes(buf, s, e);
        s = 0;
        e = buf.length;
      }
      c.cells++;
      SHAPES.forEach(([, , fits], n) => {
        if (fits(buf, s, e)) c.fits[n] = (c.fits[n] as number) + 1;
      });
    }
  }

  /** Rewrites each header issue's hint when most sampled cells fit one option. */
  refine(): void {
    for (const c of this.columns) {
      if (c.cells === 0) continue;
      let best = -1;
      for (let n = 0; n < SHAPES.length; n++)
        if (
          (c.fits[n] as number) * 2 > c.cells &&
          (best < 0 || (c.fits[n] as number) > (c.fits[best] as number))
        )
          best = n;
      if (best < 0) continue;
      const [option, looks] = SHAPES[best] as (typeof SHAPES)[number];
      c.issue.hint = `Did you mean ${CARD_OPTION_PREFIX}${option}? Most of the column's values are ${looks}.`;
    }
  }
}
