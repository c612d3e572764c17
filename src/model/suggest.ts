/**
 * "Did you mean" for header names: the closest candidate within a small edit distance.
 *
 * A header can hold thousands of unknown columns and a flow tens of thousands of
 * variables, so the search is bounded: candidates are indexed by lower-cased name (exact
 * case-insensitive matches cost one lookup) and by length (only names whose length is
 * within the allowed distance are compared), and every comparison is charged to a shared
 * budget of edit-distance cells. When the budget is spent, later names get no suggestion
 * rather than minutes of CPU; `exhausted` says so.
 */

/** Longest name that gets an edit-distance search; longer names only get exact matches. */
const MAX_NAME_CHARS = 128;

/** Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions. */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, (prev2[j - 2] as number) + 1);
      }
      cur[j] = v;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m] as number;
}

/** Edit-distance cells one header's suggestions may cost in all (≈ 0.1 s of CPU). */
export const DEFAULT_SUGGESTION_BUDGET = 20_000_000;

/** Cells left for suggestions, shared by every Suggester of one header. */
export class SuggestionBudget {
  constructor(public cells: number = DEFAULT_SUGGESTION_BUDGET) {}
  get exhausted(): boolean {
    return this.cells <= 0;
  }
}

export interface Suggestion {
  name: string;
  /** 0 for a match that differs only by case. */
  distance: number;
}

/** An index of candidate names to suggest from. */
export class Suggester {
  private readonly byLower = new Map<string, string>();
  private readonly byLength = new Map<number, string[]>();

  constructor(
    candidates: Iterable<string>,
    private readonly budget: SuggestionBudget = new SuggestionBudget(),
  ) {
    for (const candidate of candidates) {
      const lower = candidate.toLowerCase();
      if (!this.byLower.has(lower)) this.byLower.set(lower, candidate);
      let list = this.byLength.get(lower.length);
      if (list === undefined) this.byLength.set(lower.length, (list = []));
      list.push(lower);
    }
  }

  /**
   * The candidate closest to `name`: an exact case-insensitive match first, then the
   * smallest edit distance not above a quarter of the name's length (at least 2).
   */
  closest(name: string): Suggestion | undefined {
    const lower = name.toLowerCase();
    const same = this.byLower.get(lower);
    if (same !== undefined && same !== name) return { name: same, distance: 0 };
    if (lower.length > MAX_NAME_CHARS) return undefined;
    let best: string | undefined;
    let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
    for (let delta = 0; delta < bestDistance; delta++) {
      for (const length of delta === 0
        ? [lower.length]
        : [lower.length - delta, lower.length + delta]) {
        for (const candidate of this.byLength.get(length) ?? []) {
          if (candidate === lower) continue;
          if (this.budget.exhausted) return this.found(best, bestDistance);
          this.budget.cells -= (lower.length + 1) * (candidate.length + 1);
          const d = editDistance(lower, candidate);
          if (d < bestDistance) {
            best = candidate;
            bestDistance = d;
          }
        }
      }
    }
    return this.found(best, bestDistance);
  }

  private found(lower: string | undefined, distance: number): Suggestion | undefined {
    if (lower === undefined) return undefined;
    return { name: this.byLower.get(lower) as string, distance };
  }
}
