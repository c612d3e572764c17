/**
 * After the send (issue 14), end to end against the sandbox: reconcile finds exactly the
 * rows that made no card — a row matching more than 10 users, a row matching nobody,
 * non-test users in a test send — while Atomic processes asynchronously; cancel counts
 * before it acts, cancels exactly one run's cards, resumes after being killed, and never
 * sends an unscoped request. Faults (429, 5xx, revoked tokens) change nothing.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { BIN, expectNoStack, readReport, ROOT, runCli, sendArgs, tempDir } from './cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox({ processQuietMs: 50, ...options });
  onTestFinished(() => sb.stop());
  return sb;
}

const HEADER =
  'target.attributes.atomic___id,target.attributes.region,target.attributes.email,target.attributes.team,payload.variables.firstName,payload.variables.amount';

/** Line 2: one user; 3: 18 users (>10); 4: nobody; 5: an id of its own; 6: the 3 test users. */
const MIXED = [
  'customer-01,,,,Ann,1',
  ',north,,,Bob,2',
  ',,nobody@example.test,,Cy,3',
  'cust-9999,,,,Di,4',
  ',,,qa,Ed,5',
];

async function campaign(rows: string[]): Promise<string> {
  const path = join(await tempDir(), 'campaign.csv');
  await writeFile(path, `${HEADER}\n${rows.join('\n')}\n`);
  return path;
}

async function sendOne(sb: Sandbox, input: string, dir: string, extra: string[] = []) {
  const run = await runCli(sendArgs(input, join(dir, 'state'), join(dir, 'report'), extra), {
    env: sb.env,
  });
  expect(run.code, run.stderr).toBe(0);
  return join(dir, 'report');
}

function reconciled(reportDir: string): Record<string, string>[] {
  return parse(readFileSync(join(reportDir, 'reconciled.csv'), 'utf8'), { columns: true });
}

describe('reconcile', () => {
  it('waits for asynchronous processing and names exactly the rows that made no card (live)', async () => {
    const sb = await sandbox({ processDelayMs: 1500 });
    const dir = await tempDir();
    const report = await sendOne(sb, await campaign(MIXED), dir);
    const run = await runCli(['reconcile', report, '--wait', '30s', '--interval', '300ms'], {
      env: sb.env,
    });
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout).toContain('Partial: 3 of 5 rows were delivered; 2 no card.');
    // It checked more than once: the first checks came before processing.
    expect(run.stderr).toMatch(/reconcile: 0 of 5 rows have cards \(0 cards; check 1\)/);
    const rows = reconciled(report);
    expect(rows.map((r) => [r.line, r.cards])).toEqual([
      ['2', '1'],
      ['3', '0'],
      ['4', '0'],
      ['5', '1'],
      ['6', '3'],
    ]);
    expect(rows[1]?.note).toContain('more than 10');
    expect(rows[0]?.statuses).toBe('active');
    // The sandbox agrees on why.
    const ids = rows.map((r) => r.flowInvocationId as string);
    expect(ids.map((id) => sb.noCardReason(id))).toEqual([
      null,
      'too-many-matches',
      'no-match',
      null,
      null,
    ]);
    const json = readReport(report);
    expect(json.reconcile).toMatchObject({
      strategy: 'per-id',
      rows: 5,
      withCards: 3,
      withoutCards: 2,
      cards: 5,
      cardsByStatus: { active: 5 },
      outcome: 'partial',
      exitCode: 4,
    });
    expect(json.outcome).toBe('success');
    expect(readFileSync(join(report, 'report.md'), 'utf8')).toContain('## Delivery (reconcile)');
    for (const text of [
      run.stdout,
      run.stderr,
      readFileSync(join(report, 'reconciled.csv'), 'utf8'),
    ])
      expect(text).not.toContain(sb.clientSecret);
  });

  it('in a test send, only test users get cards; found by run id through the state directory', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    await sendOne(sb, await campaign(MIXED), dir, ['--test', '--run-id', 'mixed-test']);
    await sb.settle();
    const run = await runCli(
      ['reconcile', 'mixed-test', '--state-dir', join(dir, 'state'), '--strategy', 'template'],
      { env: sb.env, cwd: ROOT },
    );
    expect(run.code, run.stderr).toBe(4);
    const rows = reconciled(join(dir, 'report'));
    expect(rows.map((r) => r.cards)).toEqual(['0', '0', '0', '0', '3']);
    expect(rows[0]?.note).toContain('a test send reaches test users only');
    expect(rows.map((r) => sb.noCardReason(r.flowInvocationId as string))).toEqual([
      'no-test-user',
      'too-many-matches',
      'no-match',
      'no-test-user',
      null,
    ]);
    expect(readReport(join(dir, 'report')).reconcile?.strategy).toBe('template');
  });

  it('reconciles a clean campaign to exit 0, by either strategy, and samples with an interval', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const rows = Array.from({ length: 300 }, (_, i) => `c-${i},,,,N${i},${i}`);
    const report = await sendOne(sb, await campaign(rows), dir);
    await sb.settle();
    for (const strategy of ['per-id', 'template']) {
      const run = await runCli(['reconcile', report, '--strategy', strategy], { env: sb.env });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('Delivered: all 300 rows have cards (300 cards).');
    }
    const sample = await runCli(['reconcile', report, '--sample', '50'], { env: sb.env });
    expect(sample.code).toBe(0);
    expect(sample.stdout).toMatch(
      /50 of 50 sampled rows were delivered: 100\.0 % of the run's 300 rows \(95 % interval 9\d\.\d %–100\.0 %\)/,
    );
    expect(reconciled(report)).toHaveLength(50);
  });

  it('keeps its answer through 429s, 5xx and revoked tokens', async () => {
    const sb = await sandbox({
      faults: {
        seed: 3,
        cards429Rate: 0.3,
        cards5xxRate: 0.2,
        tokenRevokeRate: 0.1,
        retryAfterSeconds: 0,
      },
    });
    const dir = await tempDir();
    const report = await sendOne(sb, await campaign([...MIXED, ...MIXED]), dir);
    await sb.settle();
    const run = await runCli(['reconcile', report], { env: sb.env, timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(4);
    expect(readReport(report).reconcile).toMatchObject({ rows: 10, withCards: 6, cards: 10 });
    expect(sb.stats().faults['cards-429']).toBeGreaterThan(0);
    expect(sb.stats().faults['cards-5xx']).toBeGreaterThan(0);
  }, 180_000);

  it('refuses a run sent elsewhere, an unknown run and a folder without its ids, with exit 2', async () => {
    const sb = await sandbox();
    const other = await sandbox();
    const dir = await tempDir();
    const report = await sendOne(sb, await campaign(MIXED.slice(0, 1)), dir);
    const elsewhere = await runCli(['reconcile', report], { env: other.env });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain('This run was sent to http://127.0.0.1:');
    const missing = await runCli(['reconcile', 'no-such-run', '--state-dir', join(dir, 'state')], {
      env: sb.env,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('No report folder and no run no-such-run');
    rmSync(join(report, 'invocations.csv'));
    const gone = await runCli(['reconcile', report], { env: sb.env });
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('invocations.csv is missing');
    expectNoStack(gone);
  });
});

describe('cancel', () => {
  it('counts without --yes, then cancels exactly one run’s cards and no other campaign’s', async () => {
    const sb = await sandbox();
    const first = await tempDir();
    const second = await tempDir();
    const reportA = await sendOne(sb, await campaign(MIXED), first, ['--run-id', 'campaign-a']);
    const reportB = await sendOne(sb, await campaign(MIXED), second, ['--run-id', 'campaign-b']);
    await sb.settle();
    expect(sb.stats().cards).toBe(10);

    const dry = await runCli(['cancel', reportA], { env: sb.env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      "Would cancel 5 cards of 3 of the run's 5 rows. Nothing was changed.",
    );
    expect(sb.stats().cancelled).toBe(0);

    const yes = await runCli(['cancel', reportA, '--yes'], { env: sb.env });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain('Cancelled 5 cards');
    const ids = (report: string) =>
      reconcileIds(report).map((id) => sb.cards(id).map((c) => c.status));
    expect(ids(reportA).flat()).toEqual(Array(5).fill('canceled'));
    expect(ids(reportB).flat()).toEqual(Array(5).fill('active'));
    expect(sb.stats()).toMatchObject({ cancelled: 5, unscopedCancels: 0 });
    expect(readReport(reportA).cancel).toMatchObject({
      applied: true,
      cancelled: 5,
      cardsMatched: 5,
    });

    // Idempotent: nothing new to cancel.
    const again = await runCli(['cancel', reportA, '--yes'], { env: sb.env });
    expect(again.stdout).toContain('Cancelled 0 cards (0 cards of 0');
    expect(sb.stats().cancelled).toBe(5);
  });

  it('counts a run of more than 2,000 rows by its template, on disk, and cancels only its cards', async () => {
    const sb = await sandbox();
    const mine = await tempDir();
    const theirs = await tempDir();
    const rows = Array.from({ length: 2_400 }, (_, i) => `big-${i},,,,N,${i}`);
    const reportA = await sendOne(sb, await campaign(rows), mine, ['--run-id', 'big-a']);
    const other = Array.from({ length: 300 }, (_, i) => `other-${i},,,,N,${i}`);
    const reportB = await sendOne(sb, await campaign(other), theirs, ['--run-id', 'big-b']);
    await sb.settle(60_000);
    expect(sb.stats().cards).toBe(2_700);

    const dry = await runCli(['cancel', reportA], { env: sb.env, timeoutMs: 120_000 });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Would cancel 2,400 cards of 2,400 of the run's 2,400 rows.");
    const yes = await runCli(['cancel', reportA, '--yes', '--concurrency', '16'], {
      env: sb.env,
      timeoutMs: 180_000,
    });
    expect(yes.code, yes.stderr).toBe(0);
    expect(sb.stats()).toMatchObject({ cancelled: 2_400, unscopedCancels: 0 });
    const statuses = (report: string) =>
      new Set(reconcileIds(report).flatMap((id) => sb.cards(id).map((c) => c.status)));
    expect(statuses(reportA)).toEqual(new Set(['canceled']));
    expect(statuses(reportB)).toEqual(new Set(['active']));

    // reconcile by the template reads the same disk rows back in the run's order.
    const look = await runCli(['reconcile', reportA, '--strategy', 'template'], {
      env: sb.env,
      timeoutMs: 120_000,
    });
    expect(look.code, look.stderr).toBe(4);
    const lines = reconciled(reportA);
    expect(lines.length).toBe(2_400);
    expect(lines.map((l) => l.line)).toEqual(rows.map((_, i) => String(i + 2)));
    expect(new Set(lines.map((l) => l.outcome))).toEqual(new Set(['cancelled']));
    expect(new Set(lines.map((l) => l.cards))).toEqual(new Set(['1']));
  }, 300_000);

  it('finishes after being killed halfway, through faults, without ever cancelling unscoped', async () => {
    const sb = await sandbox({
      faults: { seed: 5, cards429Rate: 0.1, cards5xxRate: 0.03, retryAfterSeconds: 0 },
    });
    const dir = await tempDir();
    const rows = Array.from({ length: 600 }, (_, i) => `k-${i},,,,N,${i}`);
    const report = await sendOne(sb, await campaign(rows), dir);
    await sb.settle(60_000);
    expect(sb.stats().cards).toBe(600);
    const child = spawn(process.execPath, [BIN, 'cancel', report, '--yes', '--concurrency', '2'], {
      env: { ...process.env, ...sb.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        if (d.toString().includes('cancel: ')) resolve();
      });
      child.on('close', () => resolve());
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const halfway = sb.stats().cancelled;
    expect(halfway).toBeGreaterThan(0);
    expect(halfway).toBeLessThan(600);
    const resumed = await runCli(['cancel', report, '--yes'], { env: sb.env, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(sb.stats()).toMatchObject({ cancelled: 600, unscopedCancels: 0 });
  }, 180_000);
});

function reconcileIds(report: string): string[] {
  return readFileSync(join(report, 'invocations.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[1] as string);
}
