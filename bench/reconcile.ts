/**
 * `npm run bench:reconcile [-- --rows N] [-- --only-analytics] [-- --no-wait]`: a campaign of N rows
 * (default 1,000,000) sent to the sandbox run as its own process, then reconciled — from
 * the analytics export (events joined to the rows on disk), by paging the flow's cards and
 * matching them, and by a sample of 1,000 rows — with the wall time and the peak RSS of
 * each atomic-bulk process printed; `cancel` without --yes counts what a cancel would act on
 * (the template's cards matched, nothing cancelled). `--no-wait` leaves out the Cards API
 * look with --wait (three checks; long at 10 M rows). The sandbox's export periods are 2 s here (an hour at
 * Atomic). The sandbox holds every card and event in its own process; the figures are
 * the tool's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, writeRowsCampaign } from './generate-campaign.js';
import {
  measureNode,
  sendArgs,
  startServerProcess,
  type ProcessFigures,
  type ServerProcess,
} from './measure.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');

type Measured = ProcessFigures;

const measure = (args: string[], env: Record<string, string>): Promise<Measured> =>
  measureNode(ROOT, [BIN, ...args], env, true);

/** `reconcile --wait` by the Cards API (three checks or more), printed; its exit code. */
async function measureWait(report: string, env: Record<string, string>): Promise<number | null> {
  const args = ['--wait', '30m', '--interval', '2s', '--strategy', 'template'];
  const full = await measure(['reconcile', report, '--source', 'cards', ...args], env);
  const polls = full.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('reconcile:')).length;
  line(
    'reconcile --wait (cards paged and matched)',
    full,
    `exit ${full.code}, ${polls} checks; ${full.stdout.split('\n')[0] ?? ''}`,
  );
  return full.code;
}

/** The sandbox as its own process, as a user runs it; it keeps the cards, not the tool. */
function startSandbox(): Promise<ServerProcess> {
  return startServerProcess(
    [
      BIN,
      'sandbox',
      '--port',
      '0',
      '--no-store-payloads',
      '--max-running-tasks',
      '0',
      '--direct-uploads',
      '--analytics-hour',
      '2s',
      '--analytics-delay',
      '500ms',
      '--card-error-rate',
      '0.01',
    ],
    'sandbox',
  );
}

/** Waits until the sandbox has recorded every row, then one export period; seconds waited. */
async function processed(env: Record<string, string>, rows: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const answer = await fetch(`${env.ATOMIC_BASE_URL}/sandbox/stats`, {
      headers: { Authorization: `Bearer ${env.ATOMIC_SANDBOX_TOKEN}` },
    });
    const stats = (await answer.json()) as { data: { invocations: number } };
    if (stats.data.invocations >= rows) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  await new Promise((r) => setTimeout(r, 3000));
  return (Date.now() - started) / 1000;
}

function line(label: string, m: Measured, note: string): void {
  console.log(
    `${label.padEnd(44)}${m.seconds.toFixed(1).padStart(8)} s${m.maxRssMiB.toFixed(0).padStart(8)} MiB  ${note}`,
  );
}

async function main(): Promise<void> {
  const rows = numberOption('rows', 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-bench-reconcile-'));
  const sandbox = await startSandbox();
  try {
    const input = join(dir, 'campaign.csv');
    await writeRowsCampaign(input, rows);
    console.log(`reconcile benchmark: ${rows.toLocaleString('en-US')} rows`);
    console.log(`${'step'.padEnd(44)}${'time'.padStart(10)}${'peak RSS'.padStart(12)}`);
    const report = join(dir, 'report');
    const send = await measure(sendArgs(input, join(dir, 'state'), report), sandbox.env);
    line('send', send, `exit ${send.code}`);
    if (send.code !== 0) throw new Error(`send failed: ${send.stderr}`);
    // The sandbox processes the uploads after the send; the export look is measured once
    // every row has its event (a --wait would look again and again meanwhile).
    const waitedS = await processed(sandbox.env, rows);
    console.log(`(the sandbox processed every row ${waitedS.toFixed(0)} s after the send)`);
    const analytics = await measure(['reconcile', report, '--source', 'analytics'], sandbox.env);
    line(
      'reconcile --source analytics (one look)',
      analytics,
      `exit ${analytics.code}; ${analytics.stdout.split('\n')[0] ?? ''}`,
    );
    if (analytics.code !== 4) process.exitCode = 1;
    if (process.argv.includes('--only-analytics')) return;
    // Left out with --no-wait; a full check is partial (exit 4) when it runs.
    const waited = process.argv.includes('--no-wait') ? 4 : await measureWait(report, sandbox.env);
    const again = await measure(
      ['reconcile', report, '--source', 'cards', '--strategy', 'template'],
      sandbox.env,
    );
    line('reconcile (one check, all processed)', again, `exit ${again.code}`);
    const sample = await measure(['reconcile', report, '--sample', '1000'], sandbox.env);
    line(
      'reconcile --sample 1000',
      sample,
      `exit ${sample.code}; ${sample.stdout.split('\n')[0] ?? ''}`,
    );
    const count = await measure(['cancel', report], sandbox.env);
    line('cancel (count only, cards paged and matched)', count, `exit ${count.code}`);
    // About 1 % of rows error (--card-error-rate), so a full check is partial: exit 4.
    if (waited !== 4 || again.code !== 4 || (sample.code ?? 9) > 4 || count.code !== 0)
      process.exitCode = 1;
  } finally {
    await sandbox.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
