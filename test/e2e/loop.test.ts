/**
 * The loop as a campaign manager lives it (issue 23): every "Next step" the tool prints is
 * run literally — its commands taken from the output, pasted into a shell-like word split
 * — and at the end every row of the original file was sent exactly once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { RENEWAL_FLOW, runCli, tempDir, type CliRun } from './cli.js';

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

describe('after the send: reconcile, cancel, reconcile', () => {
  it('counts cancelled cards as cancelled, not delivered, and keeps every cancel in the record', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const cwd = await tempDir();
    const rows = Array.from(
      { length: 8 },
      (_, k) => `customer-${String(k + 1).padStart(2, '0')},N${k},${k}`,
    );
    await writeFile(join(cwd, 'c.csv'), `${HEADER}\n${rows.join('\n')}\n`);
    const sent = await follow(sb, cwd, ['send', 'c.csv', '--flow', 'renewal-reminder']);
    expect(sent.code, sent.stderr).toBe(0);
    await sb.settle();
    const [reconcile] = nextCommands(sent);
    const before = await follow(sb, cwd, reconcile as string[]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain('Delivered: all 8 rows have cards');
    const folder = join(cwd, (reconcile as string[])[1] as string);

    const cancelled = await follow(sb, cwd, ['cancel', folder, '--yes']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain('Cancelled 8 cards');
    const after = await follow(sb, cwd, reconcile as string[]);
    expect(after.code).toBe(4);
    expect(after.stdout).toContain('Partial: 0 of 8 rows were delivered; 8 cancelled.');

    const again = await follow(sb, cwd, ['cancel', folder, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8')) as {
      cancels: { cancelled: number }[];
    };
    expect(report.cancels.map((c) => c.cancelled)).toEqual([8, 0]);
    const md = readFileSync(join(folder, 'report.md'), 'utf8');
    expect(md).toContain('8 cards cancelled in 2 cancels');
    expect(md).toContain('0 of 8 rows checked delivered');
  });

  it('names rows whose reused id made Atomic keep an earlier send’s card', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const cwd = await tempDir();
    const header = `${HEADER},flowInvocationId`;
    await writeFile(
      join(cwd, 'first.csv'),
      `${header}\ncustomer-01,Ann,1,promo-1\ncustomer-02,Bob,2,promo-2\n`,
    );
    const first = await follow(sb, cwd, ['send', 'first.csv', '--flow', 'renewal-reminder']);
    expect(first.code, first.stderr).toBe(0);
    await sb.settle();
    // Cards made before the second run started belong to the first, whatever the clock skew margin.
    await new Promise((r) => setTimeout(r, 6000));
    // The same ids with other values: Atomic refuses them (409) and keeps the first cards.
    await writeFile(
      join(cwd, 'second.csv'),
      `${header}\ncustomer-01,Ann,9,promo-1\ncustomer-03,Cy,3,promo-3\n`,
    );
    const second = await follow(sb, cwd, ['send', 'second.csv', '--flow', 'renewal-reminder']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('own flowInvocationId');
    await sb.settle();
    const [reconcile] = nextCommands(second);
    const checked = await follow(sb, cwd, reconcile as string[]);
    expect(checked.code).toBe(4);
    expect(checked.stdout).toContain(
      '1 of 2 rows were delivered; 1 an earlier send’s card kept for a reused id',
    );
    const rows: { line: string; outcome: string; note: string }[] = parse(
      readFileSync(join(cwd, (reconcile as string[])[1] as string, 'reconciled.csv'), 'utf8'),
      { columns: true },
    );
    expect(rows.map((r) => [r.line, r.outcome])).toEqual([
      ['2', 'reused'],
      ['3', 'delivered'],
    ]);
    expect(rows[0]?.note).toMatch(/^id reused/);
    // A cancel of the second run leaves the first run's card alone.
    const cancel = await follow(sb, cwd, ['cancel', (reconcile as string[])[1] as string, '--yes']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(sb.cards('promo-1').map((c) => c.status)).toEqual(['active']);
  });
});

describe('small words that decide the next command', () => {
  it('names a stray README.txt in a shard folder, a wildcard in a folder name, and what cancel needs', async () => {
    const dir = await tempDir();
    const shards = join(dir, 'export');
    await mkdir(shards);
    await writeFile(join(shards, 'part-0.csv'), `${HEADER}\ncustomer-01,Ann,1\n`);
    await writeFile(join(shards, 'README.txt'), 'Exported nightly by the warehouse job.\n');
    const flow = ['--flow-config', RENEWAL_FLOW, '--report-dir', join(dir, 'r')];
    const stray = await runCli(['validate', shards, ...flow]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain(
      'holds README.txt, which does not look like a part of the export',
    );
    const glob = await runCli(['validate', join(dir, 'exp*', 'part-0.csv'), ...flow]);
    expect(glob.code).toBe(2);
    expect(glob.stderr).toContain('a wildcard works in the last part of a path only');
    const cancel = await runCli(['cancel']);
    expect(cancel.code).toBe(2);
    expect(cancel.stderr).toContain('Name the run: the report folder of a send, or its run id.');
  });
});
