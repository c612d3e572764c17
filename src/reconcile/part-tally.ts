/**
 * Rows' outcomes counted by the part that sent them, for the outcome table of the report:
 * invocations.csv lists the sent rows part after part (report/invocations-csv.ts), so a
 * row's position in it tells its part from the uploaded parts' row counts.
 */
import type { PartReport } from '../model/report.js';

export interface PartOutcomes {
  part: number;
  rows: number;
  byOutcome: Record<string, number>;
}

export class PartTally {
  /** First position of each part, ascending; null when the parts do not add up to the rows. */
  private readonly starts: number[] | null;
  private readonly parts: PartOutcomes[];
  private index = 0;

  constructor(parts: readonly PartReport[], rows: number, outcomes: readonly string[]) {
    const sent = parts.filter((p) => p.status === 'uploaded').sort((a, b) => a.number - b.number);
    const starts: number[] = [];
    let total = 0;
    for (const p of sent) {
      starts.push(total);
      total += p.rows;
    }
    this.starts = total === rows ? starts : null;
    this.parts = sent.map((p) => ({
      part: p.number,
      rows: p.rows,
      byOutcome: Object.fromEntries(outcomes.map((o) => [o, 0])),
    }));
  }

  /** Counts a row; positions come in ascending order. */
  add(position: number, outcome: string): void {
    const starts = this.starts;
    if (starts === null) return;
    while (this.index + 1 < starts.length && position >= (starts[this.index + 1] as number))
      this.index++;
    const part = this.parts[this.index];
    if (part !== undefined) part.byOutcome[outcome] = (part.byOutcome[outcome] ?? 0) + 1;
  }

  /** The table, or null when the run's parts do not account for its rows. */
  table(): PartOutcomes[] | null {
    return this.starts === null ? null : this.parts;
  }
}
