import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import {
  BIN,
  expectValidReport,
  readReport,
  ROOT,
  runCli,
  SAMPLES,
  sendArgs,
  tempDir,
} from './cli.js';
import { startTestS3, type TestS3 } from '../s3rver.js';

async function testS3(): Promise<TestS3> {
  const s3 = await startTestS3();
  onTestFinished(() => s3.stop());
  return s3;
}

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

function campaign(n: number): string {
  const rows = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount',
  ];
  for (let i = 1; i <= n; i++) rows.push(`user-${i},Name ${i},${i}`);
  return `${rows.join('\n')}\n`;
}

describe('interrupting a send', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'on %s stops taking parts, saves state and report, exits 130; a re-run finishes exactly once',
    async (signal) => {
      const sb = await sandbox({ faults: { latencyMs: 120 } });
      const dir = await tempDir();
      const input = join(dir, 'in.csv');
      await writeFile(input, campaign(400));
      const args = sendArgs(input, join(dir, 's'), join(dir, 'r1'), [
        '--max-part-bytes',
        '800',
        '--progress',
        'json',
      ]);
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, ...sb.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      let sent = false;
      child.stderr.on('data', (d: Buffer) => {
        if (!sent && d.toString().includes('"status":"uploaded"')) {
          sent = true;
          child.kill(signal);
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(130);
      const report = readReport(join(dir, 'r1'));
      expect(report).toMatchObject({ outcome: 'interrupted', exitCode: 130 });
      expect(report.rows.sent).toBeGreaterThan(0);
      expect(report.rows.sent).toBeLessThan(400);
      expect(report.nextStep).toMatch(/resume/);
      expect(stdout).toContain('Interrupted');
      const runs = await readdir(join(dir, 's', 'runs'));
      expect(runs).toHaveLength(1);
      const manifest = JSON.parse(
        readFileSync(join(dir, 's', 'runs', runs[0] as string, 'manifest.json'), 'utf8'),
      ) as { parts: { status: string }[] };
      expect(manifest.parts.filter((p) => p.status === 'uploaded').length).toBe(
        report.parts.filter((p) => p.status === 'uploaded').length,
      );
      // Parts hold personal data: none outlives the interrupted run (the id files stay).
      const left = await readdir(join(dir, 's', 'runs', runs[0] as string, 'parts'));
      expect(left.filter((f) => /^part-\d+\.csv$|\.tmp$/.test(f))).toEqual([]);
      const resumed = await runCli(
        sendArgs(input, join(dir, 's'), join(dir, 'r2'), ['--max-part-bytes', '800']),
        { env: sb.env },
      );
      expect(resumed.code).toBe(0);
      await sb.settle();
      const users = sb.invocations().map((i) => i.target.atomic___id);
      expect(users).toHaveLength(400);
      expect(new Set(users).size).toBe(400);
      expect(sb.stats().conflicts).toBe(0);
    },
    // About 20 s alone (latency-injected uploads); more on a loaded CI machine.
    120_000,
  );
});

describe('S3 hand-off', () => {
  it('reads the campaign from s3:// and writes the reports back to an s3:// prefix', async () => {
    const sb = await sandbox();
    const store = await testS3();
    const s3 = new S3Client({
      endpoint: store.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    onTestFinished(() => s3.destroy());
    await s3.send(
      new PutObjectCommand({
        Bucket: 'atomic-sandbox',
        Key: 'drop/campaign.csv',
        Body: readFileSync(join(SAMPLES, 'campaign.csv')),
      }),
    );
    const dir = await tempDir();
    const env = {
      ...sb.env,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    const run = await runCli(
      sendArgs(
        's3://atomic-sandbox/drop/campaign.csv',
        join(dir, 's'),
        's3://atomic-sandbox/reports/run-1/',
        ['--s3-endpoint', store.endpoint],
      ),
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Report: s3://atomic-sandbox/reports/run-1/report.md');
    const get = async (key: string) =>
      (
        await s3.send(new GetObjectCommand({ Bucket: 'atomic-sandbox', Key: key }))
      ).Body?.transformToString() ?? '';
    const report = JSON.parse(await get('reports/run-1/report.json')) as unknown;
    expectValidReport(report);
    expect(report).toMatchObject({
      outcome: 'success',
      input: { source: 's3://atomic-sandbox/drop/campaign.csv' },
      rows: { sent: 300 },
    });
    expect(await get('reports/run-1/report.md')).toMatch(/^# atomic-bulk send: Success/);
    expect((await get('reports/run-1/invocations.csv')).split('\n')[0]).toBe(
      'line,flowInvocationId',
    );
    await sb.settle();
    expect(sb.stats().invocations).toBe(300);
  });

  it('says clearly when the S3 object does not exist', async () => {
    const sb = await testS3();
    const run = await runCli(
      [
        'validate',
        's3://atomic-sandbox/nope.csv',
        '--flow-config',
        join(SAMPLES, 'flows/renewal-reminder.json'),
        '--s3-endpoint',
        sb.endpoint,
      ],
      {
        env: {
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_REGION: 'us-east-1',
        },
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Input s3:\/\/atomic-sandbox\/nope\.csv does not exist/);
  });
});
