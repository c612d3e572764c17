/**
 * The loop as a campaign manager lives it (issue 23): every "Next step" the tool prints is
 * run literally — its commands taken from the output, pasted into a shell-like word split
 * — and at the end every row of the original file was sent exactly once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { runCli, tempDir, type CliRun } from './cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

/** The commands in backticks of a run's "Next step:" line. */
function nextCommands(run: CliRun): string[][] {
  const line = run.stdout.split('\n').find((l) => l.startsWith('Next step: '));
  expect(line, run.stdout).toBeDefined();
  return [...(line as string).matchAll(/`atomic-bulk ([^`]+)`/g)].map((m) => words(m[1] as string));
}

/** POSIX word splitting for what the tool prints: plain words and '…' quoting. */
function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    out.push(m[1] !== undefined ? m[1].replaceAll(`'\\''`, "'") : (m[2] as string));
  return out;
}

async function follow(sb: Sandbox, cwd: string, args: string[]): Promise<CliRun> {
  return runCli(args, { env: sb.env, cwd, timeoutMs: 60_000 });
}

/** Fixes the amount of every row in a rejected.csv, keeping its columns. */
function fixRejected(path: string): void {
  const rows: string[][] = parse(readFileSync(path, 'utf8'));
  const amount = (rows[0] as string[]).indexOf('payload.variables.amount');
  for (const row of rows.slice(1)) row[amount] = '10.5';
  writeFileSync(path, stringify(rows));
}

describe('following every next step literally', () => {
  it('validate → send the valid rows → fix rejected.csv → send it → reconcile: every row once', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const cwd = await tempDir();
    const rows = Array.from({ length: 12 }, (_, k) => {
      const id = `customer-${String(k + 1).padStart(2, '0')}`;
      return `${id},Name ${k + 1},${k % 4 === 3 ? 'lots' : `${k}.25`}`;
    });
    await writeFile(join(cwd, 'in file.csv'), `${HEADER}\n${rows.join('\n')}\n`);

    const validated = await follow(sb, cwd, [
      'validate',
      'in file.csv',
      '--flow',
      'renewal-reminder',
    ]);
    expect(validated.code, validated.stderr).toBe(1);
    const [sendValid, sendFixed] = nextCommands(validated);
    expect(sendValid).toEqual([
      'send',
      'in file.csv',
      '--flow',
      'renewal-reminder',
      '--on-invalid',
      'skip',
    ]);
    expect(sendFixed?.[1]).toMatch(/rejected\.csv$/);

    const first = await follow(sb, cwd, sendValid as string[]);
    expect(first.code, first.stderr).toBe(4);
    // The step says to fix the rows and send rejected.csv: the person fixes validate's.
    fixRejected((sendFixed as string[])[1] as string);
    const second = await follow(sb, cwd, sendFixed as string[]);
    expect(second.code, second.stderr).toBe(0);
    const [reconcile] = nextCommands(second);
    expect(reconcile?.[0]).toBe('reconcile');
    await sb.settle();
    const checked = await follow(sb, cwd, reconcile as string[]);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain('all 3 rows have cards');

    // Every row of the original file, exactly once.
    const sent = sb
      .invocations()
      .map((i) => i.target['target.attributes.atomic___id'] ?? i.target.atomic___id);
    expect(sent.sort()).toEqual(rows.map((r) => r.split(',')[0]).sort());
  });

  it('a valid file: validate says how to send it, and the send says how to reconcile it', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const cwd = await tempDir();
    await writeFile(join(cwd, 'ok.csv'), `${HEADER}\ncustomer-01,Ann,1\ncustomer-02,Bob,2\n`);
    const validated = await follow(sb, cwd, ['validate', 'ok.csv', '--flow', 'renewal-reminder']);
    expect(validated.code, validated.stderr).toBe(0);
    const [send] = nextCommands(validated);
    const sent = await follow(sb, cwd, send as string[]);
    expect(sent.code, sent.stderr).toBe(0);
    await sb.settle();
    const [reconcile] = nextCommands(sent);
    const checked = await follow(sb, cwd, reconcile as string[]);
    expect(checked.code, checked.stderr).toBe(0);
    expect(sb.invocations()).toHaveLength(2);
  });

  it('with --sandbox, the next step keeps --sandbox and says why reconcile cannot follow', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'ok.csv'), `${HEADER}\ncustomer-01,Ann,1\n`);
    const validated = await runCli(
      ['validate', 'ok.csv', '--flow', 'renewal-reminder', '--sandbox'],
      { cwd },
    );
    expect(validated.code, validated.stderr).toBe(0);
    const [send] = nextCommands(validated);
    expect(send).toContain('--sandbox');
    const sent = await runCli(send as string[], { cwd });
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toContain('The embedded sandbox stopped with this command');
  });
});

describe('a cron job’s loop', () => {
  it('recognises a finished run whatever part budget it was sent with (exit 0, nothing uploaded)', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const cwd = await tempDir();
    const rows = Array.from(
      { length: 40 },
      (_, k) => `customer-${String((k % 20) + 1).padStart(2, '0')},N${k},${k}`,
    );
    await writeFile(join(cwd, 'day.csv'), `${HEADER}\n${rows.join('\n')}\n`);
    const first = await follow(sb, cwd, [
      'send',
      'day.csv',
      '--flow',
      'renewal-reminder',
      '--max-part-bytes',
      '600',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const again = await follow(sb, cwd, ['send', 'day.csv', '--flow', 'renewal-reminder']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Success: nothing uploaded');
    await sb.settle();
    expect(sb.invocations()).toHaveLength(40);
  });

  it.each(['validate', 'send'])(
    '%s with a report folder that cannot be made ends at once with exit 2',
    async (command) => {
      const cwd = await tempDir();
      await writeFile(join(cwd, 'ok.csv'), `${HEADER}\ncustomer-01,Ann,1\n`);
      const started = Date.now();
      const run = await runCli(
        [
          command,
          'ok.csv',
          '--flow',
          'renewal-reminder',
          '--sandbox',
          '--report-dir',
          '/proc/nope',
        ],
        { cwd, timeoutMs: 20_000 },
      );
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Cannot create report directory /proc/nope');
      expect(Date.now() - started).toBeLessThan(15_000);
    },
  );
});
