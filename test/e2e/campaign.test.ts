/**
 * Recurring campaigns (SPEC 8) through the built CLI: a paced send and a window that
 * closes mid-send, with the rehearsal clock (ATOMIC_BULK_CLOCK) instead of real hours;
 * what the ledger refuses to believe; an erasure killed part-way. The month of daily
 * exports, kill -9 and two pods are in test/reliability/campaign.test.ts (and on S3 in
 * test/s3/campaign.test.ts).
 */
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CampaignSecret } from '../../src/campaign/campaign-secret.js';
import { Sealer } from '../../src/model/seal.js';
import { mulberry32 } from '../../src/sandbox/faults.js';
import { HEADER, invocationsByUser, localFiles, start } from '../campaign-helpers.js';
import { readReport, runCli, sendArgs, tempDir } from './cli.js';

async function sandbox(): Promise<Sandbox> {
  const sb = await createSandbox();
  onTestFinished(() => sb.stop());
  return sb;
}

const SEED = Number(process.env.CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`recurring campaigns (seed ${SEED}; replay with CAMPAIGN_SEED)`, () => {
  it('keeps a pace of 20,000 rows a minute over 100,000 rows, measured from the uploads', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'big.csv');
    const lines = [HEADER];
    for (let i = 1; i <= 100_000; i++) lines.push(`p-${i},N,${i % 900}.5`);
    await writeFile(input, `${lines.join('\n')}\n`);
    // The rehearsal clock runs 60 times faster: a minute's slot takes a second.
    const run = await runCli(
      sendArgs(input, join(dir, 'state'), join(dir, 'r'), [
        '--campaign',
        'paced',
        '--rate',
        '20000/min',
      ]),
      { env: { ...sb.env, ATOMIC_BULK_CLOCK: '2027-01-04T10:00:00Z@60' }, timeoutMs: 120_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const report = readReport(join(dir, 'r'));
    expect(report.campaign?.pace).toMatchObject({ rows: 20_000, slotMs: 60_000, slots: 5 });
    expect(report.parts.every((p) => p.rows <= 20_000)).toBe(true);
    const tasks = sb
      .tasks()
      .map((t) => ({ at: Date.parse(t.createdAt), rows: t.rows }))
      .sort((a, b) => a.at - b.at);
    const slot = 1000; // one simulated minute, in real ms
    const t0 = tasks[0]?.at ?? 0;
    let rows = 0;
    for (const t of tasks) {
      rows += report.parts[tasks.indexOf(t)]?.rows ?? 0;
      // Rows requested by then never exceed the pace, give or take one slot.
      expect(rows).toBeLessThanOrEqual((Math.floor((t.at - t0) / slot) + 2) * 20_000);
    }
    expect((tasks.at(-1)?.at ?? 0) - t0).toBeGreaterThanOrEqual(4 * slot - 200);
    expect((await invocationsByUser(sb)).size).toBe(100_000);
  }, 120_000);

  it('stops when the window closes (exit 3, naming when it opens), refuses to start outside it, and a resume finishes the run', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'w.csv');
    const lines = [HEADER];
    for (let i = 1; i <= 100_000; i++) lines.push(`w-${i},N,${i % 900}.5`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const state = join(dir, 'state');
    const args = (r: string) =>
      sendArgs(input, state, join(dir, r), [
        '--campaign',
        'quiet',
        '--rate',
        '10000/min',
        '--window',
        '06:00-09:00',
        '--timezone',
        'Europe/London',
        '--progress',
        'none',
      ]);
    const first = await runCli(args('r1'), {
      env: { ...sb.env, ATOMIC_BULK_CLOCK: '2027-01-04T08:55:30Z@30' },
      timeoutMs: 120_000,
    });
    expect(first.code, first.stderr).toBe(3);
    expect(first.stdout + first.stderr).toMatch(
      /window 06:00–09:00 \(Europe\/London\): it opens at 5 Jan 2027, 06:00/,
    );
    const r1 = readReport(join(dir, 'r1'));
    expect(r1.outcome).toBe('failed');
    // Slots of a simulated minute (two real seconds) from about 08:55:30, validation taking
    // some of it: the parts due before 09:00 went out (five at most), the rest waits.
    expect(r1.rows.sent % 10_000).toBe(0);
    expect(r1.rows.sent).toBeGreaterThan(0);
    expect(r1.rows.sent).toBeLessThanOrEqual(50_000);
    const early = await runCli(args('r2'), {
      env: { ...sb.env, ATOMIC_BULK_CLOCK: '2027-01-05T05:59:00Z@30' },
    });
    expect(early.code).toBe(3);
    expect(early.stderr).toMatch(/opens at 5 Jan 2027, 06:00/);
    const resume = await runCli(args('r3'), {
      env: { ...sb.env, ATOMIC_BULK_CLOCK: '2027-01-05T06:00:00Z@30' },
      timeoutMs: 120_000,
    });
    expect(resume.code, resume.stderr).toBe(0);
    const r3 = readReport(join(dir, 'r3'));
    expect({ sent: r3.rows.sent, earlier: r3.rows.alreadySent }).toEqual({
      sent: 100_000 - r1.rows.sent,
      earlier: r1.rows.sent,
    });
    const got = await invocationsByUser(sb);
    expect({ users: got.size, twice: [...got.values()].filter((n) => n > 1).length }).toEqual({
      users: 100_000,
      twice: 0,
    });
  }, 180_000);

  it('refuses a ledger it cannot believe: another secret, an edited manifest; a planted file is swept away', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const state = join(dir, 'state');
    const input = join(dir, 'c.csv');
    await writeFile(input, `${HEADER}\nt-1,A,1\nt-2,B,2\n`);
    const args = (r: string) => sendArgs(input, state, join(dir, r), ['--campaign', 'trust']);
    expect((await runCli(args('r1'), { env: sb.env })).code).toBe(0);
    const other = await runCli(args('r2'), {
      env: { ...sb.env, ATOMIC_BULK_CAMPAIGN_SECRET: 'another-secret-of-at-least-16' },
    });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('written with another campaign secret');
    const folder = join(state, 'campaigns', 'trust');
    const planted = join(folder, 'seg-00000000deadbeef.bin');
    await writeFile(planted, Buffer.alloc(24));
    const fine = await runCli(args('r3'), { env: sb.env });
    expect(fine.code, fine.stderr).toBe(0);
    expect(readdirSync(folder)).not.toContain('seg-00000000deadbeef.bin');
    const manifest = join(folder, 'manifest.json');
    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace('"epoch": 0', '"epoch": 1'));
    const edited = await runCli(args('r4'), { env: sb.env });
    expect(edited.code).toBe(2);
    expect(edited.stderr).toContain('fails its seal check');
    // Its hint, followed: a new campaign name starts a ledger of its own.
    expect(edited.stderr).toContain('start a new campaign name');
    const renamed = await runCli(
      sendArgs(input, state, join(dir, 'r4b'), ['--campaign', 'trust-again']),
      { env: sb.env },
    );
    expect(renamed.code, renamed.stderr).toBe(0);
    const usage = await runCli(
      sendArgs(input, state, join(dir, 'r5'), ['--campaign', 'bad name']),
      { env: sb.env },
    );
    expect(usage.code).toBe(2);
    const missing = await runCli(
      sendArgs(input, state, join(dir, 'r6'), [
        '--campaign',
        'k2',
        '--campaign-key',
        'payload.variables.email',
      ]),
      { env: sb.env },
    );
    expect(missing.code).toBe(1);
    expect(readReport(join(dir, 'r6')).issueCounts.byCode['missing-campaign-key']).toBe(1);
    // Its hint, followed: the right column named with --campaign-key.
    const named = await runCli(
      sendArgs(input, state, join(dir, 'r6b'), [
        '--campaign',
        'k2',
        '--campaign-key',
        'target.attributes.atomic___id',
      ]),
      { env: sb.env },
    );
    expect(named.code, named.stderr).toBe(0);
    const forced = await runCli(
      sendArgs(input, state, join(dir, 'r7'), ['--campaign', 'trust', '--force']),
      { env: sb.env },
    );
    expect(forced.code).toBe(2);
  }, 60_000);

  it('finishes an erasure that was killed part-way: every copy of the forgotten keys is gone, the others stay', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const state = join(dir, 'state');
    const input = join(dir, 'all.csv');
    const users = Array.from({ length: 3000 }, (_, i) => `erase-${i}`);
    await writeFile(input, `${HEADER}\n${users.map((u) => `${u},N,1.5`).join('\n')}\n`);
    const sent = await runCli(
      sendArgs(input, state, join(dir, 'r'), ['--campaign', 'erase', '--max-part-bytes', '4000']),
      { env: sb.env },
    );
    expect(sent.code, sent.stderr).toBe(0);
    const gone = users.filter((_, i) => i % 3 === 0);
    const keys = join(dir, 'forget.csv');
    await writeFile(
      keys,
      `target.attributes.atomic___id,other\n${gone.map((u) => `${u},x`).join('\n')}\n`,
    );
    const forget = ['campaign', 'forget', 'erase', '--state-dir', state, '--keys', keys];
    const random = mulberry32(SEED + 7);
    for (let k = 0; k < 6; k++) {
      const run = start(forget, sb.env);
      setTimeout(() => run.child.kill('SIGKILL'), Math.floor(random() * 400));
      await run.done;
    }
    const last = await runCli(forget, { env: sb.env });
    expect(last.code, last.stderr).toBe(0);
    const show = await runCli(['campaign', 'show', 'erase', '--state-dir', state, '--json'], {
      env: sb.env,
    });
    const shown = JSON.parse(show.stdout) as { keys: number; forgotten: number };
    expect({ keys: shown.keys, forgotten: shown.forgotten }).toEqual({
      keys: 2000,
      forgotten: 1000,
    });
    // The digests as the ledger writes them: none of a forgotten key in any file, and the
    // kept keys' digests are there (so the search can find what it looks for).
    const hasher = CampaignSecret.fromCredentials(
      Sealer.fromCredentials(sb.clientId, sb.clientSecret),
    ).hasher('erase');
    const files = localFiles(state);
    const holds = (key: string) => {
      const digest = hasher.digestText([key]);
      return files.some((f) => f.bytes.includes(digest));
    };
    expect(gone.filter(holds)).toEqual([]);
    expect(users.filter((_, i) => i % 3 !== 0).every(holds)).toBe(true);
  }, 120_000);
});
