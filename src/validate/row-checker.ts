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
import type { CellRule, ColumnKind, ColumnPlan, ColumnSpec } from './columns.js';

/** Receives one problem: its code, the 0-based column (-1 for the row) and the reason. */
export type RowIssueHandler = (code: IssueCode, column: number, reason: string | null) => void;

/** Checks one cell's bytes; returns why the value is wrong (a shape, never the value), or null. */
type Check = (buf: Buffer, s: number, e: number) => string | null;

/** One rule of SPEC 2.4: the issue it reports, and the columns it applies to. */
interface CellRuleEntry {
  code: IssueCode;
  /** The column kinds it applies to (columns.ts). */
  kinds: readonly ColumnKind[];
  /** The cell rule it applies to, from the flow or the card option; any when absent. */
  rule?: CellRule;
  /** The check for one column (an enum's holds the flow's values). */
  check: (column: ColumnSpec) => Check;
}

/**
 * Every cell rule but timestamps (whose values the row compares: expires, embargo). A
 * column gets each entry whose kinds and rule it matches; a new rule is one entry here,
 * its code in model/issue.ts, its row in rules.ts and its text in messages.ts.
 */
const CELL_RULES: readonly CellRuleEntry[] = [
  { code: 'target-whitespace', kinds: ['target'], check: () => surroundingSpace },
  { code: 'invalid-number', kinds: ['variable'], rule: 'number', check: () => checkNumber },
  { code: 'invalid-date', kinds: ['variable'], rule: 'date', check: () => checkDate },
  { code: 'invalid-boolean', kinds: ['variable'], rule: 'boolean', check: () => checkBoolean },
  { code: 'invalid-enum', kinds: ['variable'], rule: 'enum', check: (c) => enumCheck(c.allowed) },
  ...[
    ['invalid-priority', 'priority', checkPriority],
    ['invalid-duration', 'duration', checkDuration],
    ['invalid-stream-ids', 'stream-ids', checkStreamIds],
    ['invalid-platform', 'platforms', checkPlatforms],
  ].map(([code, rule, check]) => ({
    code: code as IssueCode,
    kinds: ['card-option'] as const,
    rule: rule as CellRule,
    check: () => check as Check,
  })),
  {
    code: 'invalid-invocation-id',
    kinds: ['invocation-id'],
    rule: 'invocation-id',
    check: () => checkInvocationId,
  },
];

/** The rule's reason is the issue's text, so whitespace says nothing more. */
function surroundingSpace(buf: Buffer, s: number, e: number): string | null {
  return hasSurroundingSpace(buf, s, e) ? '' : null;
}

/** Membership in the flow's values, exact (case-sensitive, no trimming). */
function enumCheck(allowed: readonly string[] = []): Check {
  const set = new Set(allowed);
  const listed =
    allowed.length <= 12 ? allowed.join(', ') : `${allowed.slice(0, 12).join(', ')}, …`;
  return (buf, s, e) => (set.has(buf.toString('utf8', s, e)) ? null : `is not one of ${listed}`);
}

interface ColumnCheck {
  index: number;
  required: boolean;
  timestamp: boolean;
  /** The entries of CELL_RULES that apply, as codes and checks side by side. */
  codes: IssueCode[];
  checks: Check[];
}

function columnCheck(c: ColumnSpec): ColumnCheck {
  const rules = CELL_RULES.filter(
    (r) => r.kinds.includes(c.kind) && (r.rule === undefined || r.rule === c.rule),
  );
  return {
    index: c.index,
    required: c.required,
    timestamp: c.rule === 'timestamp',
    codes: rules.map((r) => r.code),
    checks: rules.map((r) => r.check(c)),
  };
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
      .map(columnCheck)
      .filter((c) => c.required || c.timestamp || c.checks.length > 0);
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
      if (col.timestamp) {
        const at = parseTimestamp(buf, s, e);
        if (typeof at === 'string') {
          report('invalid-timestamp', col.index, at);
        } else if (col.index === this.expires) {
          expiresAt = at;
          if (at < this.nowMs) report('expires-in-past', col.index, null);
        } else {
          embargoAt = at;
        }
      } else {
        for (let r = 0; r < col.checks.length; r++) {
          const reason = (col.checks[r] as Check)(buf, s, e);
          if (reason !== null) report(col.codes[r] as IssueCode, col.index, reason || null);
        }
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
