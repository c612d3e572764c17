/** Runs the reading and validation stages on inline CSV, for table-driven tests. */
import { expect } from 'vitest';
import { parseFlowConfig, type FlowConfig } from '../src/model/flow.js';
import type { Issue, IssueCode } from '../src/model/issue.js';
import { IssueLog } from '../src/model/issue-log.js';
import { RecordReader } from '../src/read/record-reader.js';
import {
  Validator,
  type ValidationResult,
  type ValidatorOptions,
} from '../src/validate/validator.js';
import { chunked } from './csv-helpers.js';

/** The flow most tests use: one variable of each known type, one required, one odd type. */
export const TEST_FLOW: FlowConfig = parseFlowConfig(
  {
    variables: {
      name: { type: 'string' },
      amount: { type: 'number' },
      due: { type: 'date' },
      vip: { type: 'boolean' },
      account: { type: 'string', required: true },
      region: { type: 'enum' },
    },
  },
  'test',
);

export const NOW = Date.parse('2026-11-22T00:00:00Z');

export interface ValidateRun {
  issues: Issue[];
  result: ValidationResult;
  log: IssueLog;
}

export async function validateCsv(
  csv: string | Buffer,
  options: Partial<ValidatorOptions> & { cuts?: number[]; maxIssues?: number } = {},
): Promise<ValidateRun> {
  const { cuts = [], maxIssues = 10_000, ...rest } = options;
  const log = new IssueLog(maxIssues);
  const validatorOptions: ValidatorOptions = {
    flow: TEST_FLOW,
    allowUnknownVariables: false,
    maxPartBytes: 32_000_000,
    addsInvocationIds: true,
    nowMs: NOW,
    ...rest,
  };
  const reader = new RecordReader({ maxRecordBytes: validatorOptions.maxPartBytes });
  const validator = new Validator(log, validatorOptions);
  const bytes = typeof csv === 'string' ? Buffer.from(csv) : csv;
  const batches = validator.check(reader.batches(chunked(bytes, cuts)));
  while (!(await batches.next()).done);
  const result = await validator.finish(reader.summary());
  return { issues: log.list(), result, log };
}

/** A header that satisfies TEST_FLOW (target + required variable), followed by `columns`. */
export function csvWith(columns: string[], ...rows: string[][]): string {
  const header = ['target.attributes.atomic___id', 'payload.variables.account', ...columns];
  const lines = [
    header.join(','),
    ...rows.map((r, i) => [`user-${i + 1}`, `acc-${i + 1}`, ...r].join(',')),
  ];
  return `${lines.join('\n')}\n`;
}

export interface ExpectedIssue {
  code: IssueCode;
  line: number;
  column?: string | null;
  severity?: 'error' | 'warning';
}

/** Asserts that exactly one issue has this code, line and column. */
export function expectIssue(issues: Issue[], expected: ExpectedIssue): Issue {
  const matches = issues.filter(
    (i) =>
      i.code === expected.code &&
      i.line === expected.line &&
      (expected.column === undefined || i.column === expected.column),
  );
  expect(
    matches,
    `expected one ${expected.code} at line ${expected.line}${expected.column ? ` column ${expected.column}` : ''}; got ${JSON.stringify(issues.map((i) => [i.code, i.line, i.column]))}`,
  ).toHaveLength(1);
  const found = matches[0] as Issue;
  if (expected.severity !== undefined) expect(found.severity).toBe(expected.severity);
  if (found.columnIndex !== null) expect(found.columnIndex).toBeGreaterThan(0);
  return found;
}

export function codes(issues: Issue[]): IssueCode[] {
  return issues.map((i) => i.code);
}
