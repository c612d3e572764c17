/**
 * The fault matrix: send against the sandbox with each fault alone and all combined;
 * every row must arrive exactly once, the report must add up, and the exit code be 0.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultOptions } from '../../src/sandbox/faults.js';
import { readReport, runCli, sendArgs } from '../e2e/cli.js';
import {
  campaignFile,
  expectConsistentManifest,
  expectExactlyOnce,
  runSeed,
  sandbox,
} from './helpers.js';

const SEED = runSeed('faults');
const ROWS = 800;

type Case = { urlTtlSeconds?: number; tokenTtlSeconds?: number; faults: FaultOptions };

const CASES: [string, Case][] = [
  ['20% 5xx on csv-task', { faults: { csvTask5xxRate: 0.2 } }],
  ['20% 5xx on upload', { faults: { upload5xxRate: 0.2 } }],
  ['429 with Retry-After on csv-task', { faults: { csvTask429Rate: 0.3, retryAfterSeconds: 1 } }],
  [
    '429 on the token endpoint',
    { tokenTtlSeconds: 1, faults: { token429Rate: 0.5, retryAfterSeconds: 1 } },
  ],
  [
    'URL TTL 2 s with some uploads held past it',
    { urlTtlSeconds: 2, faults: { slowUploadRate: 0.2, slowUploadMs: 2500 } },
  ],
  ['token TTL 5 s and revoked tokens', { tokenTtlSeconds: 5, faults: { tokenRevokeRate: 0.1 } }],
  ['slow responses (150 ms)', { faults: { latencyMs: 150 } }],
  ['connection reset mid-upload', { faults: { uploadResetRate: 0.2 } }],
  [
    'all of them at once',
    {
      urlTtlSeconds: 2,
      tokenTtlSeconds: 5,
      faults: {
        csvTask5xxRate: 0.2,
        upload5xxRate: 0.2,
        csvTask429Rate: 0.2,
        retryAfterSeconds: 1,
        tokenRevokeRate: 0.1,
        latencyMs: 40,
        uploadResetRate: 0.15,
        slowUploadRate: 0.1,
        slowUploadMs: 2500,
      },
    },
  ],
];

/** One send under `setup`'s faults, run again while resumable; returns the faults injected. */
async function runCase(name: string, setup: Case, seed: number): Promise<number> {
  const sb = await sandbox({ ...setup, faults: { ...setup.faults, seed } });
  const { dir, input } = await campaignFile(ROWS);
  const state = join(dir, 'state');
  const args = sendArgs(input, state, join(dir, 'r'), ['--max-part-bytes', '700']);
  // A part may use up its attempts: with all faults combined about half of all attempts
  // fail, and even one fault at 20 % runs several times in a row now and then (the seeded
  // stream has streaks). The run then ends resumable (exit 3) and is run again, as a
  // scheduler would, until it completes; alone, a fault may cost at most one re-run.
  const reruns = name.startsWith('all') ? 4 : 1;
  let run = await runCli(args, { env: sb.env, timeoutMs: 240_000 });
  for (let again = 0; run.code === 3 && again < reruns; again++) {
    console.log(`[faults] ${name}: a part used up its attempts (resumable); running again`);
    run = await runCli(args, { env: sb.env, timeoutMs: 240_000 });
  }
  const report = readReport(join(dir, 'r'));
  const failed = report.parts
    .filter((p) => p.status !== 'uploaded')
    .map((p) => `part ${p.number}: ${p.error ?? p.status} (${p.attempts} attempts)`);
  expect(run.code, `[${name}] seed ${seed}\n${run.stderr}\n${failed.join('\n')}`).toBe(0);
  expect(report).toMatchObject({
    outcome: 'success',
    rows: { total: ROWS, valid: ROWS, invalid: 0 },
  });
  expect(report.rows.sent + report.rows.alreadySent).toBe(ROWS);
  expect(report.parts.every((p) => p.status === 'uploaded')).toBe(true);
  await expectExactlyOnce(sb, ROWS, `${name}, seed ${seed}`);
  expectConsistentManifest(state, ROWS);
  const injected = Object.values(sb.stats().faults).reduce((a, b) => a + b, 0);
  const retried = report.parts.filter((p) => p.attempts > 1).length;
  console.log(
    `[faults] ${name}: ${report.parts.length} parts, ${injected} faults injected, ${retried} parts retried, seed ${seed}`,
  );
  await sb.stop();
  return injected;
}

describe(`fault matrix (seed ${SEED})`, () => {
  it.each(CASES)('%s: every row exactly once, counts add up, exit 0', async (name, setup) => {
    const expectFaults = !name.includes('slow responses');
    // A seed that happens to inject nothing (a fault with few chances, such as the token
    // endpoint called a handful of times) proves nothing: move on to the next seed.
    for (let attempt = 0; attempt < 6; attempt++) {
      const seed = SEED + name.length + attempt * 1000;
      const injected = await runCase(name, setup, seed);
      if (!expectFaults || injected > 0) return;
      console.log(`[faults] ${name}: seed ${seed} injected no fault; trying the next seed`);
    }
    expect.fail(`[${name}] no seed injected a fault`);
  });
});
