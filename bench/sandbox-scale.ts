/**
 * `npm run bench:sandbox [-- --rows N] [-- --no-store-payloads]`: a campaign of N rows
 * (default 10,000,000) sent to the sandbox run as its own process with its defaults, as a
 * team rehearsing a large campaign would. Prints the send's time, how long the sandbox
 * took to process every row, the sandbox's peak RSS and its folder's peak and final disk
 * use, the slowest answer of an inspection route while it worked, and whether its folder
 * was gone after it stopped.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, writeRowsCampaign } from './generate-campaign.js';
import { measureNode, sendArgs, startServerProcess } from './measure.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const MiB = 1024 * 1024;

/** Bytes a folder takes on disk (allocated blocks), recursively. */
async function diskUse(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await diskUse(path);
    else
      total += await stat(path).then(
        (s) => s.blocks * 512,
        () => 0,
      );
  }
  return total;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

interface Stats {
  invocations: number;
  duplicates: number;
  conflicts: number;
  rowErrors: number;
  cards: number;
}

async function main(): Promise<void> {
  const rows = numberOption('rows', 10_000_000);
  const storePayloads = !process.argv.includes('--no-store-payloads');
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-bench-sandbox-'));
  const sandboxTmp = join(dir, 'tmp');
  await mkdir(sandboxTmp, { mode: 0o700 });
  const input = join(dir, 'campaign.csv');
  await writeRowsCampaign(input, rows);
  const inputBytes = (await stat(input)).size;
  const sandbox = await startServerProcess(
    [
      BIN,
      'sandbox',
      '--port',
      '0',
      '--max-running-tasks',
      '0',
      ...(storePayloads ? [] : ['--no-store-payloads']),
    ],
    'sandbox',
    { TMPDIR: sandboxTmp },
  );
  const pid = sandbox.child.pid ?? 0;
  const peak = { rss: 0, disk: 0, statsMs: 0 };
  let folder = '';
  const sample = async () => {
    folder ||= (await readdir(sandboxTmp)).find((f) => f.startsWith('atomic-bulk-sandbox-')) ?? '';
    peak.rss = Math.max(peak.rss, await rssOf(pid));
    if (folder !== '') peak.disk = Math.max(peak.disk, await diskUse(join(sandboxTmp, folder)));
  };
  const stats = async (): Promise<Stats> => {
    const started = Date.now();
    const answer = await fetch(`${sandbox.env.ATOMIC_BASE_URL ?? ''}/sandbox/stats`, {
      headers: { authorization: `Bearer ${sandbox.env.ATOMIC_SANDBOX_TOKEN ?? ''}` },
    });
    const body = (await answer.json()) as { data: Stats };
    peak.statsMs = Math.max(peak.statsMs, Date.now() - started);
    return body.data;
  };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sample();
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const began = Date.now();
  try {
    console.log(
      `sandbox at campaign scale: ${rows.toLocaleString('en-US')} rows, ${(inputBytes / MiB).toFixed(0)} MiB, payloads ${storePayloads ? 'stored' : 'not stored'}`,
    );
    const send = await measureNode(
      ROOT,
      [BIN, ...sendArgs(input, join(dir, 'state'), join(dir, 'report'))],
      sandbox.env,
      true,
    );
    console.log(
      `send: exit ${send.code}, ${send.seconds.toFixed(1)} s, peak RSS ${send.maxRssMiB.toFixed(0)} MiB`,
    );
    if (send.code !== 0) throw new Error(`send failed: ${send.stderr}`);
    let last: Stats = await stats();
    while (last.invocations + last.duplicates + last.conflicts + last.rowErrors < rows) {
      await new Promise((r) => setTimeout(r, 1000));
      last = await stats();
    }
    const seconds = (Date.now() - began) / 1000;
    await sample();
    console.log(
      `processed: ${last.invocations.toLocaleString('en-US')} invocations, ${last.cards.toLocaleString('en-US')} cards, ${last.rowErrors} row errors, ${seconds.toFixed(1)} s from the start of the send (${Math.round(rows / seconds).toLocaleString('en-US')} rows/s)`,
    );
    console.log(`sandbox peak RSS: ${(peak.rss / MiB).toFixed(0)} MiB`);
    console.log(
      `sandbox folder: peak ${(peak.disk / MiB).toFixed(0)} MiB, at the end ${((await diskUse(join(sandboxTmp, folder))) / MiB).toFixed(0)} MiB (${((await diskUse(join(sandboxTmp, folder))) / rows).toFixed(0)} bytes a row)`,
    );
    console.log(`slowest GET /sandbox/stats while it worked: ${peak.statsMs} ms`);
    if (last.invocations !== rows) process.exitCode = 1;
  } finally {
    sampling = false;
    await sampler;
    await sandbox.stop();
    console.log(
      `after stop: sandbox folder ${existsSync(join(sandboxTmp, folder)) ? 'STILL THERE' : 'removed'}`,
    );
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
