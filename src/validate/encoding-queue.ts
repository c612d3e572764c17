/**
 * The reader finds bytes that are not UTF-8 (and NUL bytes) as it decodes a chunk; the
 * validator learns which record and column each is in only when it reaches the record.
 * This queue holds the faults in between and reports each record's, one per column.
 */
import type { RecordBatch } from '../model/record-batch.js';
import type { EncodingProblem } from '../model/read-batch.js';
import type { Reporter } from './issue-sink.js';

/** Faults already taken are dropped in blocks of this many. */
const TRIM_AT = 1024;

export class EncodingQueue {
  private readonly queue: EncodingProblem[] = [];
  private head = 0;

  /** Queues the faults of the next chunk; `fresh` forgets the rest (a new read of the input). */
  push(problems: readonly EncodingProblem[], fresh = false): void {
    if (fresh) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > TRIM_AT) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    for (const p of problems) this.queue.push(p);
  }

  /** Drops the faults inside record i without reporting them. */
  skip(b: RecordBatch, i: number): void {
    const end = b.absEnd[i] as number;
    while (this.head < this.queue.length && (this.queue[this.head] as EncodingProblem).offset < end)
      this.head++;
  }

  /** Reports the faults inside record i (one per column) and drops them from the queue. */
  take(b: RecordBatch, i: number, record: number, report: EncodingReport): void {
    const q = this.queue;
    const end = b.absEnd[i] as number;
    if (this.head >= q.length || (q[this.head] as EncodingProblem).offset >= end) return;
    const seen = new Set<number>();
    while (this.head < q.length && (q[this.head] as EncodingProblem).offset < end) {
      const problem = q[this.head++] as EncodingProblem;
      const column = fieldAt(b, i, problem.offset);
      if (seen.has(column)) continue;
      seen.add(column);
      const nul = problem.kind === 'nul-byte';
      report.sink.report(
        'encoding-error',
        { line: b.line[i] as number, record },
        report.columnOf(column),
        () => ({
          message: nul
            ? 'The cell contains a NUL byte, which does not belong in a text file.'
            : 'The cell contains bytes that are not valid UTF-8.',
          hint: nul
            ? 'The file may be binary, or UTF-16 without a byte-order mark; export it again as CSV UTF-8.'
            : 'The file was probably saved in another encoding (Windows-1252, Latin-1); export it again as CSV UTF-8.',
        }),
      );
    }
  }
}

/** Where a record's encoding faults go, and how their columns are named. */
export type EncodingReport = Pick<Reporter, 'sink' | 'columnOf'>;

/** 0-based field of record i that contains absolute offset `offset`. */
function fieldAt(b: RecordBatch, i: number, offset: number): number {
  const rel = offset - (b.absStart[i] as number) + (b.start[i] as number);
  const first = b.fieldFirst[i] as number;
  const n = b.fieldCount[i] as number;
  for (let f = 0; f < n - 1; f++) {
    if (rel < b.rawStart(first + f + 1)) return f;
  }
  return Math.max(0, n - 1);
}
