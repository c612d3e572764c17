/**
 * `npm run bench:campaign [-- --keys N] [-- --rows N]`: a recurring campaign at scale. A
 * ledger of N keys (default 50,000,000) is written as a campaign's sends would leave it
 * (keyed digests of `user-<i>`), then a run of M rows (default 5,000,000; half of its keys
 * in the ledger) is checked against it with `send --dry-run --campaign`, as its own
 * process: time, peak RSS, the ledger's bytes per key, and the S3 requests the check makes
 * when the ledger is on S3 (AWS_ENDPOINT_URL_S3 and BENCH_S3_STATE=s3://bucket/prefix/).
 * `validate` of the same file is measured beside it: the campaign's cost is the difference.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CampaignSecret } from '../src/campaign/campaign-secret.js';
import { openCampaignStore } from '../src/campaign/campaign-store.js';
import { CampaignLedger, ENTRY_BYTES, fileName } from '../src/campaign/ledger.js';
import { ExternalSorter, MergedCursor, RecordWriter } from '../src/files/sorted-runs.js';
import type { Report } from '../src/model/report.js';
import { numberOption, writeRowsCampaign } from './generate-campaign.js';
import { measureNode } from './measure.js';
import { readFile } from 'node:fs/promises';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const FLOW = join(ROOT, 'samples/flows/renewal-reminder.json');
const SECRET = 'bench-campaign-secret-0123456789';
const MiB = 1024 * 1024;

/** Writes a ledger of `keys` keys, user-<first> … user-<first+keys-1>, sent a day ago. */
async function seed(stateDir: string, first: number, keys: number): Promise<number> {
  const started = performance.now();
  const secret = CampaignSecret.fromText(SECRET);
  const hasher = secret.hasher('bench');
  const store = await openCampaignStore(stateDir, 'bench', {});
  try {
    const ledger = await CampaignLedger.open({
      store,
      name: 'bench',
      secret,
      now: () => new Date(),
      create: { keyColumns: ['target.attributes.atomic___id'], destination: null },
    });
    const sorter = new ExternalSorter(store.work, ENTRY_BYTES, 16);
    const entry = Buffer.alloc(ENTRY_BYTES);
    entry.writeUInt32BE(Math.floor(Date.now() / 1000) - 86_400, 16);
    const batch = 4096;
    for (let i = first; i < first + keys; i += batch) {
      const n = Math.min(batch, first + keys - i);
      for (let k = 0; k < n; k++) hasher.set(k, [Buffer.from(`user-${i + k}`)]);
      const digests = hasher.finish(n);
      for (let k = 0; k < n; k++) {
        digests.copy(entry, 0, k * 16, k * 16 + 16);
        if (sorter.roomy) sorter.push(entry, 0);
        else await sorter.add(entry, 0);
      }
    }
    const name = fileName('seg');
    const writer = new RecordWriter(join(store.work, name), ENTRY_BYTES);
    const merged = new MergedCursor(await sorter.sources(), ENTRY_BYTES, 16);
    while (await merged.fill())
      for (let at = merged.pos; at < merged.end; at += ENTRY_BYTES)
        await writer.add(merged.buf, at);
    await merged.close();
    await sorter.dispose();
    ledger.manifest.segments = [await ledger.putFile(writer, name)];
    await ledger.save();
  } finally {
    await store.close();
  }
  return (performance.now() - started) / 1000;
}

/** Seeds a ledger of `keys` keys and checks a run of `rows` rows against it; prints figures. */
export async function measureCampaign(keys: number, rows: number): Promise<boolean> {
  const work = await mkdtemp(join(tmpdir(), 'atomic-bulk-bench-campaign-'));
  try {
    const stateDir = process.env.BENCH_S3_STATE ?? join(work, 'state');
    const input = join(work, 'run.csv');
    await writeRowsCampaign(input, rows);
    const seconds = await seed(stateDir, Math.floor(rows / 2), keys);
    const env = { ATOMIC_BULK_CAMPAIGN_SECRET: SECRET };
    const common = ['--flow-config', FLOW, '--progress', 'none'];
    const validate = await measureNode(
      ROOT,
      [BIN, 'validate', input, ...common, '--report-dir', join(work, 'rv')],
      env,
    );
    const dry = ['send', input, '--flow', 'renewal-reminder', ...common, '--dry-run'];
    const plain = await measureNode(ROOT, [BIN, ...dry, '--report-dir', join(work, 'rp')], env);
    const check = await measureNode(
      ROOT,
      [
        BIN,
        ...dry,
        '--campaign',
        'bench',
        '--state-dir',
        stateDir,
        '--report-dir',
        join(work, 'rc'),
      ],
      env,
      true,
    );
    const report = JSON.parse(await readFile(join(work, 'rc', 'report.json'), 'utf8')) as Report;
    const size = (await stat(input)).size;
    const expected = rows - Math.floor(rows / 2);
    const line = (label: string, m: { seconds: number; maxRssMiB: number }) =>
      `  ${label.padEnd(28)}${`${m.seconds.toFixed(1)} s`.padStart(9)}${`${(rows / m.seconds / 1000).toFixed(0)}k rows/s`.padStart(16)}${`${m.maxRssMiB.toFixed(0)} MiB`.padStart(10)}`;
    console.log('');
    console.log(
      `campaign ledger of ${keys.toLocaleString('en-US')} keys (${((keys * ENTRY_BYTES) / MiB).toFixed(1)} MiB, ${ENTRY_BYTES} B/key, written in ${seconds.toFixed(1)} s); a run of ${rows.toLocaleString('en-US')} rows (${(size / MiB).toFixed(0)} MiB), half of them in the ledger`,
    );
    console.log(line('validate', validate));
    console.log(line('send --dry-run', plain));
    console.log(line('send --dry-run --campaign', check));
    console.log(
      `  skipped ${report.rows.skippedAlreadySent ?? '?'} of ${rows} (expected ${expected}); ledger S3 requests ${report.campaign?.ledgerRequests ?? 0}${process.env.BENCH_S3_STATE === undefined ? ' (local state; BENCH_S3_STATE=s3://… to count them)' : ''}`,
    );
    const exact = check.code === 0 && report.rows.skippedAlreadySent === expected;
    console.log(`${exact ? 'PASS' : 'MISS'}  the check is exact (exit ${check.code})`);
    console.log(
      `${check.maxRssMiB <= 150 ? 'PASS' : 'MISS'}  peak RSS ${check.maxRssMiB.toFixed(0)} MiB ≤ 150 MiB (send --dry-run without a campaign: ${plain.maxRssMiB.toFixed(0)} MiB)`,
    );
    if (check.code !== 0) console.log(check.stderr.slice(0, 2000));
    return exact && check.maxRssMiB <= 150;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('campaign-scale.js'))
  await measureCampaign(numberOption('keys', 50_000_000), numberOption('rows', 5_000_000));
