/**
 * Recurring campaigns (SPEC 8) over simulated months, through the built CLI and a sandbox
 * that lives across the runs, as a cron job would use them: daily exports with churn
 * under --once-per, forget and a re-send, kill -9 at random moments and two pods started
 * at once — with the rehearsal clock (ATOMIC_BULK_CLOCK) instead of real days. Here
 * rather than in the e2e tier because they start some seventy CLI processes.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { mulberry32 } from '../../src/sandbox/faults.js';
import {
  clockOf,
  expectedSends,
  expectNoRawKeys,
  expectSends,
  localFiles,
  month,
  start,
} from '../campaign-helpers.js';
import { readReport, runCli, sendArgs, tempDir } from '../e2e/cli.js';

async function sandbox(): Promise<Sandbox> {
  const sb = await createSandbox();
  onTestFinished(() => sb.stop());
  return sb;
}

const SEED = Number(process.env.CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`recurring campaigns over a month (seed ${SEED}; replay with CAMPAIGN_SEED)`, () => {
  it('sends each user once per 7 days across 30 daily exports with churn; forget gives one user one more card and nobody else', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const state = join(dir, 'state');
    const m = month(SEED, 30, 300);
    const expected = expectedSends(m.days, 7);
    for (let d = 0; d < 30; d++) {
      const input = await m.write(d, dir);
      const report = join(dir, `r${d}`);
      const run = await runCli(
        sendArgs(input, state, report, [
          '--campaign',
          'renewals',
          '--once-per',
          '7d',
          '--progress',
          'none',
          '--max-part-bytes',
          '1500',
        ]),
        { env: { ...sb.env, ATOMIC_BULK_CLOCK: clockOf(d) } },
      );
      expect(run.code, `day ${d + 1}: ${run.stderr}`).toBe(0);
      const r = readReport(report);
      const due = [...expected].filter(([, days]) => days.includes(d)).length;
      expect({ day: d + 1, sent: r.rows.sent, skipped: r.rows.skippedAlreadySent }).toEqual({
        day: d + 1,
        sent: due,
        skipped: (m.days[d] as string[]).length - due,
      });
      expect(r.campaign?.skippedRepeated).toBe(
        (m.days[d] as string[]).length - new Set(m.days[d]).size,
      );
    }
    await expectSends(sb, expected, `30 days, seed ${SEED}`);
    // The ledger holds digests only: no member id in any file of the state directory.
    const everyone = [...new Set(m.days.flat())];
    expectNoRawKeys(localFiles(state), everyone);

    // Erasure: the user forgotten gets a card again on the next send; nobody else does.
    const last = m.days[29] as string[];
    const who = last[0] as string;
    const forget = await runCli(
      ['campaign', 'forget', 'renewals', '--state-dir', state, '--key', who],
      {
        env: sb.env,
      },
    );
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout).toContain('Forgot 1 of 1 keys');
    const again = await runCli(
      ['campaign', 'forget', 'renewals', '--state-dir', state, '--key', who],
      {
        env: sb.env,
      },
    );
    expect(again.stdout).toContain('Forgot 0 of 1 keys');
    const input = await m.write(29, dir);
    const resend = await runCli(
      sendArgs(input, state, join(dir, 'after-forget'), [
        '--campaign',
        'renewals',
        '--once-per',
        '7d',
      ]),
      { env: { ...sb.env, ATOMIC_BULK_CLOCK: clockOf(29, 30) } },
    );
    expect(resend.code, resend.stderr).toBe(0);
    expect(readReport(join(dir, 'after-forget')).rows.sent).toBe(1);
    expected.set(who, [...(expected.get(who) ?? []), 29]);
    await expectSends(sb, expected, 'after forget');
    expectNoRawKeys(localFiles(state), [who]);

    const show = await runCli(['campaign', 'show', 'renewals', '--state-dir', state, '--json'], {
      env: sb.env,
    });
    const shown = JSON.parse(show.stdout) as { keys: number; forgotten: number; runs: unknown[] };
    expect(shown.keys).toBe(expected.size);
    expect(shown.forgotten).toBe(1);
    expect(shown.runs).toHaveLength(31);
  }, 240_000);

  it('sends each user once per 3 days with kill -9 at random moments and two pods started at once', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const state = join(dir, 'state');
    const random = mulberry32(SEED + 1);
    const m = month(SEED + 1, 10, 400);
    const kills: string[] = [];
    for (let d = 0; d < 10; d++) {
      const input = await m.write(d, dir);
      const args = (r: string) =>
        sendArgs(input, state, join(dir, `${r}${d}`), [
          '--campaign',
          'pods',
          '--once-per',
          '3d',
          '--max-part-bytes',
          '1200',
          '--concurrency',
          '2',
          '--progress',
          'none',
        ]);
      const env = { ...sb.env, ATOMIC_BULK_CLOCK: clockOf(d) };
      const pods = [start(args('a'), env), start(args('b'), env)];
      const victim = random() < 0.7 ? Math.floor(random() * 2) : -1;
      if (victim >= 0) {
        const delay = Math.floor(random() * 700);
        setTimeout(() => pods[victim]?.child.kill('SIGKILL'), delay);
        kills.push(`day ${d + 1}: pod ${victim} at ${delay} ms`);
      }
      const ends = await Promise.all(pods.map((p) => p.done));
      for (const [k, end] of ends.entries())
        if (end.signal === null)
          expect([0, 3], `day ${d + 1} pod ${k}: ${end.stderr}`).toContain(end.code);
      // The next cron tick: resumes whatever a killed pod left, or finds nothing to do.
      const tick = await runCli(args('c'), { env });
      expect(tick.code, `day ${d + 1} tick: ${tick.stderr}`).toBe(0);
    }
    await expectSends(sb, expectedSends(m.days, 3), `kills: ${kills.join('; ')}`);
  }, 240_000);
});
