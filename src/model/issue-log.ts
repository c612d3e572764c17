/**
 * Collects issues: complete counts by code and severity, and the first `maxIssues` by
 * position in the file. Issues found late (duplicates resolved after the pass) still
 * displace later-line ones, so the retained list is always the first N of the file.
 * Memory is bounded by `maxIssues`, whatever the number of problems.
 */
import { compareIssues, ISSUE_CODES, type Issue, type IssueCode } from './issue.js';

export class IssueLog {
  readonly maxIssues: number;
  errors = 0;
  warnings = 0;
  readonly byCode = new Map<IssueCode, number>();
  /** Max-heap on position: the root is the latest-positioned retained issue. */
  private readonly heap: Issue[] = [];

  constructor(maxIssues: number) {
    this.maxIssues = maxIssues;
  }

  get total(): number {
    return this.errors + this.warnings;
  }

  get truncated(): boolean {
    return this.total > this.heap.length;
  }

  /** False when an issue at `line` would only be counted, so its message need not be built. */
  wouldRetain(line: number): boolean {
    if (this.heap.length < this.maxIssues) return true;
    const top = this.heap[0];
    return top !== undefined && line <= top.line;
  }

  add(item: Issue): void {
    this.count(item.code, item.severity);
    if (this.maxIssues === 0) return;
    const heap = this.heap;
    if (heap.length < this.maxIssues) {
      heap.push(item);
      this.siftUp(heap.length - 1);
    } else if (compareIssues(item, heap[0] as Issue) < 0) {
      heap[0] = item;
      this.siftDown(0);
    }
  }

  /** Counts an issue that will not be listed. */
  count(code: IssueCode, severity = ISSUE_CODES[code]): void {
    if (severity === 'error') this.errors++;
    else this.warnings++;
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }

  /** The retained issues in file order. */
  list(): Issue[] {
    return [...this.heap].sort(compareIssues);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareIssues(heap[i] as Issue, heap[parent] as Issue) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent] as Issue, heap[i] as Issue];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let largest = i;
      if (l < heap.length && compareIssues(heap[l] as Issue, heap[largest] as Issue) > 0)
        largest = l;
      if (r < heap.length && compareIssues(heap[r] as Issue, heap[largest] as Issue) > 0)
        largest = r;
      if (largest === i) return;
      [heap[i], heap[largest]] = [heap[largest] as Issue, heap[i] as Issue];
      i = largest;
    }
  }
}
