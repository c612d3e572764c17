/**
 * Inputs that are legal CSV but hostile in size: very wide headers, flows with very many
 * variables, thousands of unknown columns. Each must end in located issues with short
 * texts, in bounded work (suggestions are charged to a budget of edit-distance cells).
 */
import { describe, expect, it } from 'vitest';
import { parseFlowConfig } from '../model/flow.js';
import { expectIssue, validateCsv } from '../../test/validate-helpers.js';
import { MAX_COLUMNS } from './validator.js';
import { Suggester, SuggestionBudget } from '../model/suggest.js';

const ID = 'target.attributes.atomic___id';

function flowWith(variables: number) {
  const vars: Record<string, { type: string }> = {};
  for (let v = 0; v < variables; v++) vars[`variable${v}`] = { type: 'string' };
  return parseFlowConfig({ variables: vars }, 'big');
}

describe('pathological headers', () => {
  it('refuses a header wider than the limit with one located issue', async () => {
    const width = 1_000_000;
    const header = Array.from({ length: width }, (_, k) => `c${k}`).join(',');
    const before = process.memoryUsage().rss;
    const { issues, result } = await validateCsv(`${header}\n`);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expectIssue(issues, { code: 'too-many-columns', line: 1, column: null });
    expect(issues.filter((i) => i.code === 'too-many-columns')).toHaveLength(1);
    expect(issues.length).toBeLessThanOrEqual(2);
    expect(result.fileErrors).toBeGreaterThan(0);
  });

  it('accepts a header at the limit', async () => {
    const names = Array.from({ length: MAX_COLUMNS - 1 }, (_, k) => `payload.metadata.m${k}`);
    const { issues } = await validateCsv(
      `${ID},${names.join(',')}\nu1${',x'.repeat(names.length)}\n`,
      {
        flow: flowWith(0),
      },
    );
    expect(issues).toEqual([]);
  });

  it('suggests within a budget for 2,000 unknown variables against a 60,000-variable flow', async () => {
    const flow = flowWith(60_000);
    const unknown = Array.from({ length: 2000 }, (_, k) => `payload.variables.varible${k}`);
    const started = process.cpuUsage();
    const { issues } = await validateCsv(`${ID},${unknown.join(',')}\n`, { flow });
    const cpu = process.cpuUsage(started);
    // Bound on work, not wall time: the budget caps comparisons at ~2·10⁷ cells.
    expect((cpu.user + cpu.system) / 1e6).toBeLessThan(20);
    const found = issues.filter((i) => i.code === 'unknown-variable');
    expect(found).toHaveLength(2000);
    expectIssue(issues, {
      code: 'unknown-variable',
      line: 1,
      column: 'payload.variables.varible0',
    });
    expect(found[0]?.hint).toBe('Did you mean payload.variables.variable0?');
    for (const i of found) expect(i.hint.length).toBeLessThan(400);
  });

  it('lists at most a few of the flow’s variables in a hint', async () => {
    const flow = flowWith(500);
    const { issues } = await validateCsv(`${ID},payload.variables.zzzzzzzzzzzzzzzz\n`, { flow });
    const hint = issues.find((i) => i.code === 'unknown-variable')?.hint ?? '';
    expect(hint).toContain('and 490 more');
    expect(hint.length).toBeLessThan(400);
  });
});

describe('Suggester', () => {
  it('prefers a match that differs only by case, then the smallest distance', () => {
    const s = new Suggester(['firstName', 'lastName', 'amount']);
    expect(s.closest('firstname')?.name).toBe('firstName');
    expect(s.closest('frstName')?.name).toBe('firstName');
    expect(s.closest('zzz')).toBeUndefined();
  });

  it('stops suggesting when the shared budget is spent, instead of searching on', () => {
    const budget = new SuggestionBudget(100);
    const s = new Suggester(
      Array.from({ length: 10_000 }, (_, k) => `name${k}`),
      budget,
    );
    expect(s.closest('nam0')).toBeDefined();
    expect(budget.exhausted).toBe(true);
    expect(s.closest('nam1')).toBeUndefined();
  });
});
