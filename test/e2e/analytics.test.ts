/**
 * reconcile --source analytics end to end (issue 26): a send through the sandbox, whose
 * analytics export (periods of two seconds here, an hour at Atomic) holds an event for
 * every card it made, errored or cancelled. The join names exactly the rows the sandbox
 * dropped (no user matched, or more than 10) or errored, exits 4, and agrees row for row
 * with the Cards API strategy on the same run; after a cancel, every row reads cancelled.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { BIN, expectNoStack, readReport, ROOT, runCli, sendArgs, tempDir } from './cli.js';

const HOUR_MS = 2000;

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox({
    processQuietMs: 50,
    analytics: { hourMs: HOUR_MS, delayMs: 200 },
    ...options,
  });
  onTestFinished(() => sb.stop());
  return sb;
}

const HEADER =
  'target.attributes.atomic___id,target.attributes.region,target.attributes.email,payload.variables.firstName,payload.variables.amount';

/** Rows for one user each, with every 37th matching nobody and every 53rd more than 10 users. */
function rows(n: number): string[] {
  return Array.from({ length: n }, (_, k) =>
    k % 37 === 5
      ? `,,nobody-${k}@example.test,Cy,${k}`
      : k % 53 === 7
        ? `,north,,Bob,${k}`
        : `member-${k},,,Ann,${k}`,
  );
}

async function campaign(n: number): Promise<string> {
  const path = join(await tempDir(), 'campaign.csv');
  await writeFile(path, `${HEADER}\n${rows(n).join('\n')}\n`);
  return path;
}

function reconciled(reportDir: string): Record<string, string>[] {
  return parse(readFileSync(join(reportDir, 'reconciled.csv'), 'utf8'), { columns: true });
}

/** Waits until the export has listed the period holding `at` (it ends, then the delay). */
async function exportCovers(at: number): Promise<void> {
  const ready = (Math.floor(at / HOUR_MS) + 2) * HOUR_MS + 300;
  await new Promise((r) => setTimeout(r, Math.max(0, ready - Date.now())));
}

/** `rows` rows sent through a fresh sandbox, processed, and their period exported. */
async function sentAndExported(rows: number): Promise<{ sb: Sandbox; report: string }> {
  const sb = await sandbox();
  const dir = await tempDir();
  const report = join(dir, 'report');
  const send = await runCli(sendArgs(await campaign(rows), join(dir, 'state'), report), {
    env: sb.env,
  });
  expect(send.code, send.stderr).toBe(0);
  await sb.settle();
  await exportCovers(Date.now());
  return { sb, report };
}

describe('reconcile --source analytics', () => {
  it('names exactly the rows the sandbox dropped or errored, as the Cards API does', async () => {
    const sb = await sandbox({ faults: { seed: 5, cardErrorRate: 0.05, cardDisplayRate: 0.25 } });
    const dir = await tempDir();
    const report = join(dir, 'report');
    const send = await runCli(
      sendArgs(await campaign(3000), join(dir, 'state'), report, ['--max-part-bytes', '40000']),
      { env: sb.env },
    );
    expect(send.code, send.stderr).toBe(0);
    await sb.settle();
    const invocations = sb.invocations();
    const errored = new Set<string>();
    const dropped = new Set<string>();
    for (const inv of invocations) {
      const why = sb.noCardReason(inv.flowInvocationId);
      if (why === 'card-error') errored.add(inv.flowInvocationId);
      else if (why !== null) dropped.add(inv.flowInvocationId);
    }
    expect(errored.size).toBeGreaterThan(50);
    expect(dropped.size).toBeGreaterThan(100);
    await exportCovers(Date.now());

    const byAnalytics = await runCli(
      ['reconcile', report, '--source', 'analytics', '--wait', '20s', '--interval', '500ms'],
      { env: sb.env },
    );
    expectNoStack(byAnalytics);
    expect(byAnalytics.code, byAnalytics.stderr).toBe(4);
    expect(byAnalytics.stdout).toContain(
      `Partial: ${(3000 - errored.size - dropped.size).toLocaleString('en-US')} of 3,000 rows were published; ${errored.size} error, ${dropped.size} no event yet (analytics export through `,
    );
    expect(byAnalytics.stderr).toMatch(
      /reconcile: [\d,]+ of 3,000 rows have an event \([\d,]+ events; check 1\)/,
    );
    const section = readReport(report).reconcile!;
    expect(section.source).toBe('analytics');
    expect(section.rowsByOutcome).toMatchObject({
      published: 3000 - errored.size - dropped.size,
      error: errored.size,
      none: dropped.size,
    });
    expect(section.analytics!.unreadable).toBe(0);
    expect(section.analytics!.engagement.displayed).toBeGreaterThan(300);
    expect(section.byPart!.length).toBe(readReport(report).parts.length);
    expect(section.byPart!.reduce((n, p) => n + (p.byOutcome.error ?? 0), 0)).toBe(errored.size);
    const md = readFileSync(join(report, 'report.md'), 'utf8');
    expect(md).toContain(
      '## Outcomes by part\n\n| Part | Rows | published | error | cancelled | expired | embargoed | none yet |',
    );
    expect(md).toContain(
      `| All | 3,000 | ${(3000 - errored.size - dropped.size).toLocaleString('en-US')} | ${errored.size} | 0 | 0 | 0 | ${dropped.size} |`,
    );
    expect(md).toMatch(
      /## Timeline\n\n\| When \(UTC\) \| What \|\n\|---\|---\|\n\| \S+ \| send started \|/,
    );
    expect(md).toMatch(
      /\| first card event of the run \(analytics\) \|[\s\S]*\| reconciled: partial \|/,
    );
    expect(readFileSync(join(report, 'report.html'), 'utf8')).toContain('Outcomes by part');
    const analyticsRows = reconciled(report);
    expect(analyticsRows).toHaveLength(3000);
    for (const row of analyticsRows) {
      const id = row.flowInvocationId as string;
      const expected = errored.has(id) ? 'error' : dropped.has(id) ? 'none' : 'published';
      expect([row.line, row.outcome]).toEqual([row.line, expected]);
    }

    const byCards = await runCli(['reconcile', report, '--source', 'cards'], { env: sb.env });
    expect(byCards.code, byCards.stderr).toBe(4);
    const cardRows = reconciled(report);
    expect(cardRows.map((r) => [r.line, r.outcome === 'delivered'])).toEqual(
      analyticsRows.map((r) => [r.line, r.outcome === 'published']),
    );

    const auto = await runCli(['reconcile', report], { env: sb.env });
    expect(auto.code, auto.stderr).toBe(4);
    expect(readReport(report).reconcile!.source).toBe('analytics');
    expect(readReport(report).reconcile!.sourceReason).toBe('the analytics export covers the run');
  });

  it('reads the CSV export alike, and a cancel turns every row to cancelled', async () => {
    const { sb, report } = await sentAndExported(400);
    const csv = await runCli(['reconcile', report, '--source', 'analytics', '--format', 'csv'], {
      env: sb.env,
    });
    expect(csv.code, csv.stderr).toBe(4);
    const published = reconciled(report).filter((r) => r.outcome === 'published').length;
    expect(published).toBe(400 - 11 - 8);
    const cancel = await runCli(['cancel', report, '--yes'], { env: sb.env });
    expect(cancel.code, cancel.stderr).toBe(0);
    await exportCovers(Date.now());
    const after = await runCli(['reconcile', report, '--source', 'analytics'], { env: sb.env });
    expect(after.code, after.stderr).toBe(4);
    const outcomes = reconciled(report).map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'cancelled')).toHaveLength(published);
    expect(outcomes.filter((o) => o === 'published')).toHaveLength(0);
  });

  it('stops a --wait on Ctrl-C between looks: exit 130, and its kept export and rows removed', async () => {
    // Every 37th row matches nobody: never an event, so the look waits.
    const { sb, report } = await sentAndExported(400);
    const tmp = await tempDir();
    const child = spawn(
      process.execPath,
      [BIN, 'reconcile', report, '--source', 'analytics', '--wait', '60s', '--interval', '5s'],
      {
        cwd: ROOT,
        env: { ...process.env, ...sb.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let kept: string[] = [];
    const looked = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (!stderr.includes('check 1)') || kept.length > 0) return;
        // The first look is done and its export kept on disk while the command sleeps.
        kept = readdirSync(tmp);
        resolve();
      });
    });
    await looked;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(
      kept.some((name) => name.startsWith('atomic-bulk-export-')),
      kept.join(),
    ).toBe(true);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('falls back to the Cards API under auto while the export does not cover the run', async () => {
    const sb = await sandbox({ analytics: { hourMs: 3_600_000, delayMs: 300_000 } });
    const dir = await tempDir();
    const report = join(dir, 'report');
    const send = await runCli(sendArgs(await campaign(40), join(dir, 'state'), report), {
      env: sb.env,
    });
    expect(send.code, send.stderr).toBe(0);
    await sb.settle();
    const auto = await runCli(['reconcile', report], { env: sb.env });
    expect(auto.code, auto.stderr).toBe(4);
    const section = readReport(report).reconcile!;
    expect(section.source).toBe('cards');
    expect(section.sourceReason).toMatch(/^the analytics export covers only until /);
    expect(section.rowsByOutcome).toMatchObject({ delivered: 38, none: 2 });
  });
});
