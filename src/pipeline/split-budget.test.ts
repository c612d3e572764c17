/**
 * The CSV contract at its edges (issue 22, found by a differential fuzz): the smallest
 * part budget a usage error names is exactly the smallest that works — for split, which
 * adds no id column, and when the header alone is over the budget; and rejected.csv's
 * _errors list exactly the report's issues for each line, broken rows included.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parseFlowConfig } from '../model/flow.js';
import { split } from './split.js';
import { validate } from './validate.js';

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-budget-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The budget a failed split names, or null when it worked. */
async function namedBudget(dir: string, csv: string, maxPartBytes: number): Promise<number | null> {
  const input = join(dir, 'in.csv');
  await writeFile(input, csv);
  const out = join(dir, `out-${maxPartBytes}-${Math.random().toString(36).slice(2)}`);
  try {
    await split({ input, outDir: out, maxPartBytes, reportDir: join(out, 'report') });
    return null;
  } catch (error) {
    const hint = (error as { context?: { hint?: string } }).context?.hint ?? '';
    const m = /Use --max-part-bytes (\d+) or more/.exec(hint);
    if (m === null) throw error;
    return Number(m[1]);
  }
}

const cell = fc.stringMatching(/^[a-z0-9]{0,40}$/);

describe('the smallest part budget a split error names', () => {
  it('is the smallest that works, whatever the header and rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(cell, { minLength: 1, maxLength: 4 }),
        fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        async (header, rows) => {
          const width = header.length;
          const names = header.map((h, k) => `c${k}${h}`);
          const body = rows.map((r) =>
            Array.from({ length: width }, (_, k) => r[k] ?? '').join(','),
          );
          const csv = `${names.join(',')}\n${body.join('\n')}\n`;
          await withDir(async (dir) => {
            const budget = await namedBudget(dir, csv, 1);
            expect(budget).not.toBeNull();
            expect(await namedBudget(dir, csv, budget as number)).toBeNull();
            expect(await namedBudget(dir, csv, (budget as number) - 1)).not.toBeNull();
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('rejected.csv _errors', () => {
  it('lists exactly the report issues of each line, for broken rows too', async () => {
    const flow = {
      config: parseFlowConfig(
        { config: { variables: { amount: { type: 'number' }, when: { type: 'date' } } } },
        'test',
      ),
      flowConfigId: 'test',
      version: 1,
      source: 'file' as const,
    };
    const csv = [
      'target.attributes.atomic___id,payload.variables.amount,payload.variables.when',
      'u1,12,2026-01-01',
      'u2,abc,2026-13-01,extra',
      'u3,"x"y,notadate',
      'u4,abc,2026-13-01',
      'u5,xyz',
    ].join('\n');
    await withDir(async (dir) => {
      const input = join(dir, 'in.csv');
      await writeFile(input, `${csv}\n`);
      const { report } = await validate({ input, flow, reportDir: join(dir, 'r') });
      const records: string[][] = parse(await readFile(join(dir, 'r', 'rejected.csv'), 'utf8'), {
        relax_column_count: true,
      });
      // _line and _errors are the last two cells, whatever the row's own width.
      const rejected = records.slice(1).map((r) => ({ _line: r.at(-2), _errors: r.at(-1) }));
      for (const row of rejected) {
        const line = Number(row._line);
        const fromReport = report.issues
          .filter((i) => i.line === line && i.severity === 'error')
          .map((i) => (i.column !== null ? `${i.code} (${i.column})` : i.code))
          .sort();
        expect(String(row._errors).split('; ').sort(), `line ${line}`).toEqual(fromReport);
      }
      expect(rejected.map((r) => r._line)).toEqual(['3', '4', '5', '6']);
    });
  });
});
