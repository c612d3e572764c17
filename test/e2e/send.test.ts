import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'csv-parse/sync';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { BIN, expectNoStack, readReport, ROOT, runCli, SAMPLES, sendArgs, tempDir } from './cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

/** A campaign of `n` rows for renewal-reminder, with quoted commas, unicode and line breaks. */
function campaign(n: number, bad: number[] = []): string {
  const rows = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,payload.variables.renewalDate,payload.metadata.note',
  ];
  for (let i = 1; i <= n; i++) {
    const amount = bad.includes(i) ? '1,000' : `${i}.5`;
    rows.push(
      `user-${i},"Zoë ""${i}"", Jr.",${JSON.stringify(amount)},2027-01-${String(1 + (i % 28)).padStart(2, '0')},"line one\nline two"`,
    );
  }
  return `${rows.join('\n')}\n`;
}

async function setup(content: string) {
  const dir = await tempDir();
  const input = join(dir, 'campaign.csv');
  await writeFile(input, content);
  return { dir, input, state: join(dir, 'state'), report: (name: string) => join(dir, name) };
}

/** Every input row arrived exactly once, with its variables. */
function expectExactlyOnce(sb: Sandbox, n: number, reportDir: string): void {
  const invocations = sb.invocations();
  const users = invocations
    .map((i) => i.target.atomic___id)
    .sort((a, b) => Number(a?.slice(5)) - Number(b?.slice(5)));
  expect(users).toEqual(Array.from({ length: n }, (_, i) => `user-${i + 1}`));
  expect(new Set(invocations.map((i) => i.flowInvocationId)).size).toBe(n);
  expect(sb.stats().conflicts).toBe(0);
  const sample = invocations.find((i) => i.target.atomic___id === 'user-7');
  expect(sample?.variables).toEqual({
    firstName: 'Zoë "7", Jr.',
    amount: 7.5,
    renewalDate: '2027-01-08',
  });
  expect(sample?.metadata).toEqual({ note: 'line one\nline two' });
  const ids: string[][] = parse(readFileSync(join(reportDir, 'invocations.csv')), { from_line: 2 });
  expect(new Set(ids.map((r) => r[1]))).toEqual(
    new Set(invocations.map((i) => i.flowInvocationId)),
  );
}

describe('atomic-bulk send (built CLI against the sandbox over HTTP)', () => {
  it('runs the README command on a fresh checkout: send samples/campaign.csv --sandbox', async () => {
    const dir = await tempDir();
    const run = await runCli([
      'send',
      join(SAMPLES, 'campaign.csv'),
      '--flow',
      'renewal-reminder',
      '--sandbox',
      '--state-dir',
      join(dir, 's'),
      '--report-dir',
      join(dir, 'r'),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Success: 300 rows sent');
    expect(run.stdout).toContain(`Report: ${join(dir, 'r')}/report.md`);
    expect(readReport(join(dir, 'r'))).toMatchObject({ outcome: 'success', rows: { sent: 300 } });
  });

  it('sends a multi-part campaign as exactly one invocation per row', async () => {
    const sb = await sandbox();
    const { input, state, report } = await setup(campaign(120));
    const run = await runCli(
      sendArgs(input, state, report('r'), ['--max-part-bytes', '3000', '--concurrency', '3']),
      { env: sb.env },
    );
    expect(run.code).toBe(0);
    await sb.settle();
    const r = readReport(report('r'));
    expect(r.parts.length).toBeGreaterThan(4);
    expect(
      r.parts.every((p) => p.status === 'uploaded' && p.bytes <= 3000 && p.taskId !== null),
    ).toBe(true);
    expect(r.rows).toMatchObject({ total: 120, valid: 120, sent: 120 });
    expect(sb.tasks()).toHaveLength(r.parts.length);
    expectExactlyOnce(sb, 120, report('r'));
  });

  it('uploads nothing when a finished run is run again, and says so', async () => {
    const sb = await sandbox();
    const { input, state, report } = await setup(campaign(30));
    expect(
      (
        await runCli(sendArgs(input, state, report('r1'), ['--max-part-bytes', '2000']), {
          env: sb.env,
        })
      ).code,
    ).toBe(0);
    const tasks = sb.tasks().length;
    const again = await runCli(sendArgs(input, state, report('r2'), ['--max-part-bytes', '2000']), {
      env: sb.env,
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already sent in full/);
    expect(sb.tasks()).toHaveLength(tasks);
    expect(readReport(report('r2'))).toMatchObject({
      outcome: 'success',
      rows: { sent: 0, alreadySent: 30 },
    });
  });

  it('sends everything again with a new --run-id (new invocation ids), and nothing twice with --force', async () => {
    const sb = await sandbox();
    const { input, state, report } = await setup(campaign(10));
    await runCli(sendArgs(input, state, report('r1')), { env: sb.env });
    await runCli(sendArgs(input, state, report('r2'), ['--force']), { env: sb.env });
    await sb.settle();
    expect(sb.stats()).toMatchObject({ invocations: 10, duplicates: 10 });
    await runCli(sendArgs(input, state, report('r3'), ['--run-id', 'second-wave']), {
      env: sb.env,
    });
    await sb.settle();
    expect(sb.stats().invocations).toBe(20);
  });

  it('uploads nothing when rows are invalid under --on-invalid abort', async () => {
    const sb = await sandbox();
    const { input, state, report } = await setup(campaign(20, [3, 11]));
    const run = await runCli(sendArgs(input, state, report('r')), { env: sb.env });
    expect(run.code).toBe(1);
    expect(sb.tasks()).toEqual([]);
    const r = readReport(report('r'));
    expect(r).toMatchObject({ outcome: 'invalid', rows: { valid: 18, invalid: 2, sent: 0 } });
    expect(readdirSync(report('r'))).toContain('rejected.csv');
  });

  it('uploads exactly the valid rows under --on-invalid skip and exits 4', async () => {
    const sb = await sandbox();
    const { input, state, report } = await setup(campaign(20, [3, 11]));
    const run = await runCli(
      sendArgs(input, state, report('r'), ['--on-invalid', 'skip', '--max-part-bytes', '2000']),
      { env: sb.env },
    );
    expect(run.code).toBe(4);
    await sb.settle();
    const users = sb.invocations().map((i) => i.target.atomic___id);
    expect(users).toHaveLength(18);
    expect(users).not.toContain('user-3');
    expect(users).not.toContain('user-11');
    const r = readReport(report('r'));
    expect(r).toMatchObject({
      outcome: 'partial',
      exitCode: 4,
      rows: { valid: 18, invalid: 2, sent: 18 },
    });
    const rejected: string[][] = parse(readFileSync(join(report('r'), 'rejected.csv')), {
      from_line: 2,
    });
    expect(rejected.map((row) => row[0])).toEqual(['user-3', 'user-11']);
  });

  it('delivers every row exactly once under injected 429s and 5xx and a 2-second URL lifetime', async () => {
    const seed = 11;
    const sb = await sandbox({
      urlTtlSeconds: 2,
      faults: {
        seed,
        csvTask429Rate: 0.2,
        csvTask5xxRate: 0.2,
        upload5xxRate: 0.2,
        retryAfterSeconds: 1,
        latencyMs: 30,
      },
    });
    const { input, state, report } = await setup(campaign(80));
    const run = await runCli(sendArgs(input, state, report('r'), ['--max-part-bytes', '2500']), {
      env: sb.env,
      timeoutMs: 120_000,
    });
    expect(run.code, `seed ${seed}: ${run.stderr}`).toBe(0);
    await sb.settle();
    expect(Object.values(sb.stats().faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expectExactlyOnce(sb, 80, report('r'));
  }, 150_000);

  it('loses and duplicates nothing when killed with SIGKILL mid-upload and run again', async () => {
    const sb = await sandbox({ faults: { latencyMs: 150 } });
    const { input, state, report } = await setup(campaign(60));
    const args = sendArgs(input, state, report('r1'), [
      '--max-part-bytes',
      '1500',
      '--progress',
      'json',
    ]);
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...sb.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let uploaded = 0;
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        uploaded += (d.toString().match(/"status":"uploaded"/g) ?? []).length;
        if (uploaded >= 2) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => resolve());
    });
    await new Promise((r) => child.on('close', r));
    expect(child.signalCode).toBe('SIGKILL');
    await sb.settle();
    const afterKill = sb.stats().invocations;
    expect(afterKill).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(60);
    const resumed = await runCli(
      sendArgs(input, state, report('r2'), ['--max-part-bytes', '1500']),
      { env: sb.env },
    );
    expect(resumed.code).toBe(0);
    await sb.settle();
    expectExactlyOnce(sb, 60, report('r2'));
    const r = readReport(report('r2'));
    // This invocation's uploads plus the parts the killed one had recorded as accepted.
    expect(r.rows.sent + r.rows.alreadySent).toBe(60);
    expect(r.rows.alreadySent).toBe(
      r.parts.filter((p) => p.previouslyUploaded).reduce((n, p) => n + p.rows, 0),
    );
  });

  it('refuses a live send to a draft flow before any work, with exit 2 and --test as the way', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, 'target.attributes.atomic___id,payload.variables.accountId\nu1,a1\n');
    const run = await runCli(
      [
        'send',
        input,
        '--flow',
        'onboarding-checklist',
        '--state-dir',
        join(dir, 's'),
        '--report-dir',
        join(dir, 'r'),
      ],
      { env: sb.env },
    );
    expect(run.code).toBe(2);
    expectNoStack(run);
    expect(run.stderr).toContain(
      'Flow onboarding-checklist is a draft: a live send needs a published flow.',
    );
    expect(run.stderr).toMatch(/--test/);
    expect(existsSync(join(dir, 'r'))).toBe(false);
    expect(sb.tasks()).toHaveLength(0);
    const test = await runCli(
      [
        'send',
        input,
        '--flow',
        'onboarding-checklist',
        '--test',
        '--state-dir',
        join(dir, 's'),
        '--report-dir',
        join(dir, 'r2'),
      ],
      { env: sb.env },
    );
    expect(test.code).toBe(0);
  });

  it('needs credentials unless --sandbox, and says which are missing', async () => {
    const run = await runCli(
      ['send', join(SAMPLES, 'campaign.csv'), '--flow', 'renewal-reminder'],
      {
        env: {
          ATOMIC_BASE_URL: undefined,
          ATOMIC_ENVIRONMENT_ID: undefined,
          ATOMIC_CLIENT_ID: undefined,
          ATOMIC_CLIENT_SECRET: undefined,
        },
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Missing connection settings: .*ATOMIC_CLIENT_SECRET/);
    expectNoStack(run);
  });

  it('does a dry run without any API', async () => {
    const { input, state, report } = await setup(campaign(40));
    const run = await runCli(
      sendArgs(input, state, report('r'), [
        '--dry-run',
        '--flow-config',
        join(SAMPLES, 'flows/renewal-reminder.json'),
        '--max-part-bytes',
        '3000',
      ]),
    );
    expect(run.code).toBe(0);
    const r = readReport(report('r'));
    expect(r).toMatchObject({ dryRun: true, outcome: 'success', rows: { sent: 0 } });
    expect(r.parts.length).toBeGreaterThan(1);
    expect(r.parts.every((p) => p.status === 'pending')).toBe(true);
  });

  it('measures a dry run’s parts without writing them, exactly as --keep-parts writes them', async () => {
    const { input, state, report } = await setup(campaign(40));
    const dry = (dir: string, extra: string[]) =>
      runCli(
        sendArgs(input, state, report(dir), [
          '--dry-run',
          '--flow-config',
          join(SAMPLES, 'flows/renewal-reminder.json'),
          '--max-part-bytes',
          '3000',
          ...extra,
        ]),
      );
    expect((await dry('measured', [])).code).toBe(0);
    expect(existsSync(join(state, 'dry-runs'))).toBe(false);
    expect((await dry('kept', ['--keep-parts'])).code).toBe(0);
    const measured = readReport(report('measured')).parts;
    const kept = readReport(report('kept')).parts;
    expect(measured.map((p) => [p.rows, p.bytes, p.sha256])).toEqual(
      kept.map((p) => [p.rows, p.bytes, p.sha256]),
    );
    for (const p of kept) {
      const bytes = readFileSync(p.file as string);
      expect(bytes.length).toBe(p.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(p.sha256);
    }
  });
});
