/**
 * Checks every cell of a data row against the column plan and reports each problem;
 * every issue in the row is reported, not only the first (SPEC 2.4). It is a pure
 * function of the row, so the same checker also explains rejected rows afterwards.
 */
import { FIELD_ESCAPED, unescapeQuotes, type RecordBatch } from '../model/record-batch.js';
import type { IssueCode } from '../model/issue.js';
import {
  checkBoolean,
  checkDate,
  checkDuration,
  checkNumber,
  checkInvocationId,
  checkPlatforms,
  checkPriority,
  checkStreamIds,
  hasSurroundingSpace,
  parseTimestamp,
} from './cells.js';
import type { CellRule, ColumnPlan } from './columns.js';

/** Receives one problem: its code, the 0-based column (-1 for the row) and the reason. */
export type RowIssueHandler = (code: IssueCode, column: number, reason: string | null) => void;

type Check = (buf: Buffer, s: number, e: number) => string | null;

const CHECKS: Partial<Record<CellRule, [IssueCode, Check]>> = {
  number: ['invalid-number', checkNumber],
  date: ['invalid-date', checkDate],
  boolean: ['invalid-boolean', checkBoolean],
  priority: ['invalid-priority', checkPriority],
  duration: ['invalid-duration', checkDuration],
  'stream-ids': ['invalid-stream-ids', checkStreamIds],
  platforms: ['invalid-platform', checkPlatforms],
  'invocation-id': ['invalid-invocation-id', checkInvocationId],
};

/** Membership in the flow's values, exact (case-sensitive, no trimming). */
function enumCheck(allowed: readonly string[]): [IssueCode, Check] {
  const set = new Set(allowed);
  const listed =
    allowed.length <= 12 ? allowed.join(', ') : `${allowed.slice(0, 12).join(', ')}, …`;
  return [
    'invalid-enum',
    (buf, s, e) => (set.has(buf.toString('utf8', s, e)) ? null : `is not one of ${listed}`),
  ];
}

interface ColumnCheck {
  index: number;
  required: boolean;
  target: boolean;
  timestamp: boolean;
  code: IssueCode | null;
  check: Check | null;
}

export class RowChecker {
  private readonly columns: ColumnCheck[];
  private readonly targets: number[];
  private readonly campaignKeys: number[];
  private readonly expires: number;
  private readonly embargo: number;
  private readonly nowMs: number;

  constructor(plan: ColumnPlan, nowMs: number) {
    this.nowMs = nowMs;
    this.targets = plan.targets;
    this.campaignKeys = plan.campaignKeys;
    this.expires = plan.expires;
    this.embargo = plan.embargo;
    // Only columns with something to check; free-text columns cost nothing per row.
    this.columns = plan.columns
      .filter((c) => c.kind !== 'unusable' && c.kind !== 'annotation')
      .map((c) => {
        const entry = c.rule === 'enum' ? enumCheck(c.allowed ?? []) : CHECKS[c.rule];
        return {
          index: c.index,
          required: c.required,
          target: c.kind === 'target',
          timestamp: c.rule === 'timestamp',
          code: entry?.[0] ?? null,
          check: entry?.[1] ?? null,
        };
      })
      .filter((c) => c.required || c.target || c.timestamp || c.check !== null);
  }

  check(b: RecordBatch, i: number, report: RowIssueHandler): void {
    const first = b.fieldFirst[i] as number;
    let expiresAt = Number.NaN;
    let embargoAt = Number.NaN;
    for (const col of this.columns) {
      const k = first + col.index;
      let buf = b.buf;
      let s = b.fStart[k] as number;
      let e = b.fEnd[k] as number;
      if (s === e) {
        if (col.required) report('required-value-missing', col.index, null);
        continue;
      }
      if (((b.fFlags[k] as number) & FIELD_ESCAPED) !== 0) {
        buf = unescapeQuotes(buf, s, e);
        s = 0;
        e = buf.length;
      }
      if (col.target) {
        if (hasSurroundingSpace(buf, s, e)) report('target-whitespace', col.index, null);
      } else if (col.timestamp) {
        const at = parseTimestamp(buf, s, e);
        if (typeof at === 'string') {
          report('invalid-timestamp', col.index, at);
        } else if (col.index === this.expires) {
          expiresAt = at;
          if (at < this.nowMs) report('expires-in-past', col.index, null);
        } else {
          embargoAt = at;
        }
      } else if (col.check !== null) {
        const reason = col.check(buf, s, e);
        if (reason !== null) report(col.code as IssueCode, col.index, reason);
      }
    }
    if (this.targets.length > 0 && allEmpty(b, i, this.targets)) report('empty-target', -1, null);
    if (this.campaignKeys.length > 0 && allEmpty(b, i, this.campaignKeys))
      report('empty-campaign-key', -1, null);
    if (embargoAt >= expiresAt) report('embargo-after-expires', this.embargo, null);
  }
}

/** True when every listed field of record i is empty (a loop: no closure per row). */
export function allEmpty(b: RecordBatch, i: number, fields: number[]): boolean {
  for (const f of fields) if (!b.isEmpty(i, f)) return false;
  return true;
}
