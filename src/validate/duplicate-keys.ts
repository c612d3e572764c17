/**
 * The two whole-file checks on keys: a flowInvocationId that repeats an earlier row's
 * (an error: Atomic would treat the second as a retry of the first), and target columns
 * that repeat an earlier row's (a warning: the user gets the flow twice). Each row adds a
 * 128-bit hash of its keys as it passes; `settle` reports the repeats, first occurrence
 * kept, once the whole file has been read. Both finders spill to disk past their budget.
 */
import { FIELD_ESCAPED, type RecordBatch } from '../model/record-batch.js';
import { murmur128 } from '../model/murmur.js';
import type { RecordSet } from '../model/record-set.js';
import type { ColumnPlan } from './columns.js';
import { DuplicateFinder, type DuplicateFinderOptions } from './duplicate-finder.js';
import type { ColumnRef, IssueSink } from './issue-sink.js';
import { allEmpty } from './row-checker.js';

/** What `settle` reports to and marks. */
export interface SettleTarget {
  sink: IssueSink;
  /** Rows with a repeated id become invalid … */
  invalid: RecordSet;
  /** … and are remembered as such (rejected.csv names the reason). */
  duplicateIds: RecordSet;
  /** The flowInvocationId column, as issues name it. */
  idColumn: ColumnRef | null;
  /** `line 7`, or `lines 3 and 7` (file names for a multi-file input). */
  where: (line: number, other?: number) => string;
  signal?: AbortSignal;
}

export class DuplicateKeys {
  private readonly ids: DuplicateFinder;
  private readonly targets: DuplicateFinder;
  private readonly hash = new Uint32Array(4);

  constructor(options: DuplicateFinderOptions) {
    this.ids = new DuplicateFinder(options);
    this.targets = new DuplicateFinder(options);
  }

  /** Adds the keys of record i: its id, when it has one, and its targets, unless all empty. */
  add(b: RecordBatch, i: number, plan: ColumnPlan, at: { line: number; record: number }): void {
    const id = plan.invocationId;
    if (id >= 0 && !b.isEmpty(i, id)) {
      this.hashField(b, i, id);
      this.ids.add(this.hash, at.line, at.record);
    }
    const targets = plan.targets;
    if (targets.length === 0 || allEmpty(b, i, targets)) return;
    if (targets.length === 1) {
      this.hashField(b, i, targets[0] as number);
    } else {
      // Length-prefix each value so ("ab","c") and ("a","bc") differ.
      const parts: Buffer[] = [];
      for (const t of targets) {
        const value = b.fieldBytes(i, t);
        const len = Buffer.allocUnsafe(4);
        len.writeUInt32LE(value.length);
        parts.push(len, value);
      }
      const joined = Buffer.concat(parts);
      murmur128(joined, 0, joined.length, this.hash);
    }
    this.targets.add(this.hash, at.line, at.record);
  }

  /** Reports every repeated id and target; releases the finders' files either way. */
  async settle(to: SettleTarget): Promise<void> {
    try {
      for await (const d of this.ids.duplicates()) {
        to.signal?.throwIfAborted();
        to.duplicateIds.add(d.record);
        to.invalid.add(d.record);
        to.sink.report(
          'duplicate-invocation-id',
          { line: d.line, record: d.record },
          to.idColumn,
          () => ({
            message: `flowInvocationId repeats the value of ${to.where(d.firstLine)}; each row needs its own id.`,
            hint: `Give one of ${to.where(d.firstLine, d.line)} another id, or leave the cell empty to have one assigned.`,
          }),
        );
      }
      for await (const d of this.targets.duplicates()) {
        to.signal?.throwIfAborted();
        to.sink.report('duplicate-target', { line: d.line, record: d.record }, null, () => ({
          message: `The target columns have the same values as ${to.where(d.firstLine)}; the user will get the flow twice.`,
          hint: 'Remove one of the rows if that is not intended.',
        }));
      }
    } finally {
      await this.close();
    }
  }

  /** Releases temporary files (a run that stops early). */
  async close(): Promise<void> {
    await this.ids.close();
    await this.targets.close();
  }

  /** Hashes the value of field f of record i, without copying unless it has `""` escapes. */
  private hashField(b: RecordBatch, i: number, f: number): void {
    const k = (b.fieldFirst[i] as number) + f;
    if (((b.fFlags[k] as number) & FIELD_ESCAPED) === 0) {
      murmur128(b.buf, b.fStart[k] as number, b.fEnd[k] as number, this.hash);
    } else {
      const value = b.fieldBytes(i, f);
      murmur128(value, 0, value.length, this.hash);
    }
  }
}
