/**
 * Data hand-off on a real S3 (radosgw, which enforces conditional writes): a campaign
 * exported as gzip shards under a prefix, run state kept on S3 with a lease — two sends of
 * one run at once, and a send killed with SIGKILL then resumed from another directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { rgwClient } from './s3-client.js';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { BIN, readReport, ROOT, runCli, sendArgs, tempDir, validateArgs } from '../e2e/cli.js';

const rgw = inject('rgw');
const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

const client = rgwClient;

async function bucket(s3: S3Client): Promise<string> {
  const name = `handoff-${randomUUID().slice(0, 8)}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

function env(sb: Sandbox): Record<string, string> {
  return {
    ...sb.env,
    AWS_ACCESS_KEY_ID: rgw.accessKey,
    AWS_SECRET_ACCESS_KEY: rgw.secretKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: rgw.endpoint,
  };
}

function rows(from: number, to: number, eol = '\n'): string {
  let text = '';
  for (let i = from; i <= to; i++) text += `user-${i},Name ${i},${i}.5${eol}`;
  return text;
}

async function keys(s3: S3Client, b: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key as string).sort();
}

/**
 * Starts a send with `--progress json` and calls `onUploaded` once, when its first part
 * is uploaded (to kill it, interrupt it, or take its lease); resolves with its exit.
 */
function sendUntilUploaded(
  args: string[],
  environment: Record<string, string>,
  onUploaded: (child: ChildProcess) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...environment,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let fired = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!fired && stderr.includes('"status":"uploaded"')) {
      fired = true;
      onUploaded(child);
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('a warehouse export on S3', () => {
  it('sends 7 gzip shards under a prefix exactly once, locates a bad row as file:line, and is the same run as the joined file', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox();
    const shards: [string, Buffer][] = [
      ['export/data_0_0_0.csv.gz', gzipSync(`${HEADER}\n${rows(1, 150)}`)],
      ['export/data_0_1_0.csv.gz', gzipSync('')], // an empty shard
      ['export/data_0_2_0.csv.gz', gzipSync(`${HEADER}\r\n${rows(151, 300, '\r\n')}`)],
      ['export/data_0_3_0.csv.gz', gzipSync(`\ufeff${HEADER}\n${rows(301, 450)}`)],
      ['export/data_0_4_0.csv.gz', gzipSync(`${HEADER}\n${rows(451, 500)}user-bad,Bad,lots\n`)],
      ['export/data_0_5_0.csv.gz', gzipSync(`${HEADER}\n`)], // header only
      ['export/data_0_10_0.csv.gz', gzipSync(`${HEADER}\n${rows(501, 700).slice(0, -1)}`)],
      ['export/_SUCCESS', Buffer.alloc(0)],
    ];
    for (const [key, body] of shards)
      await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
    const dir = await tempDir();
    const args = (report: string) =>
      sendArgs(`s3://${b}/export/`, `s3://${b}/state/`, join(dir, report), [
        '--on-invalid',
        'skip',
        '--max-part-bytes',
        '6000',
      ]);
    const sent = await runCli(args('r1'), { env: env(sb), cwd: dir });
    expect(sent.code, sent.stderr).toBe(4);
    await sb.settle();
    const users = sb.invocations().map((i) => i.target.atomic___id);
    expect(users).toHaveLength(700);
    expect(new Set(users).size).toBe(700);
    const report = readReport(join(dir, 'r1'));
    const bad = `s3://${b}/export/data_0_4_0.csv.gz`;
    // By name, numbers as numbers (data_0_10_0 last); the _SUCCESS marker left out.
    expect(report.input.files).toEqual(shards.slice(0, 7).map(([key]) => `s3://${b}/${key}`));
    expect(report.rows).toMatchObject({ total: 701, valid: 700, invalid: 1, sent: 700 });
    expect(report.issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['invalid-number', bad, 52],
    ]);
    const rejected = readFileSync(join(dir, 'r1', 'rejected.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(rejected[1]).toMatch(new RegExp(`,${bad.replaceAll('.', '\\.')}:52,invalid-number`));
    const invocations = readFileSync(join(dir, 'r1', 'invocations.csv'), 'utf8').split('\n');
    expect(invocations[1]).toMatch(new RegExp(`^s3://${b}/export/data_0_0_0\\.csv\\.gz:2,`));
    expect(invocations).toContain(
      invocations.find((l) => l.startsWith(`s3://${b}/export/data_0_10_0.csv.gz:201,`)),
    );
    expect(invocations.filter((l) => l !== '')).toHaveLength(701);
    // State is on S3: manifest, a released lease, the id files.
    const state = await keys(s3, b, 'state/');
    expect(state.some((k) => k.endsWith('/manifest.json'))).toBe(true);
    expect(state.filter((k) => k.endsWith('.ids.csv')).length).toBe(report.parts.length);
    const lease = state.find((k) => k.endsWith('/lease.json')) as string;
    const held = await s3.send(new GetObjectCommand({ Bucket: b, Key: lease }));
    expect(
      JSON.parse(await (held.Body as { transformToString(): Promise<string> }).transformToString()),
    ).toMatchObject({ released: true });

    // Another pod, another working directory: the run is done; invocations.csv is whole.
    const again = await runCli(args('r2'), {
      env: env(sb),
      cwd: await tempDir('atomic-bulk-pod-b-'),
    });
    expect(again.code, again.stderr).toBe(4);
    const second = readReport(join(dir, 'r2'));
    expect(second.rows).toMatchObject({ sent: 0, alreadySent: 700 });
    expect(readFileSync(join(dir, 'r2', 'invocations.csv'), 'utf8')).toBe(
      readFileSync(join(dir, 'r1', 'invocations.csv'), 'utf8'),
    );
    await sb.settle();
    expect(sb.invocations()).toHaveLength(700);

    // A glob over the prefix names the same shards (the marker does not match).
    const glob = await runCli(validateArgs(`s3://${b}/export/data_*.csv.gz`, join(dir, 'rg')), {
      env: env(sb),
    });
    expect(glob.code).toBe(1);
    expect(readReport(join(dir, 'rg')).input.files).toEqual(report.input.files);
    expect(readReport(join(dir, 'rg')).input.sha256).toBe(report.input.sha256);

    // split reads the prefix the same way: every row, in order, in parts under the budget.
    const parts = join(dir, 'parts');
    const cut = await runCli(
      [
        'split',
        `s3://${b}/export/`,
        '--out-dir',
        parts,
        '--max-part-bytes',
        '6000',
        '--report-dir',
        join(dir, 'rs'),
      ],
      { env: env(sb) },
    );
    expect(cut.code, cut.stderr).toBe(0);
    expect(readReport(join(dir, 'rs')).rows).toMatchObject({ total: 701, valid: 701 });
    expect(readReport(join(dir, 'rs')).input.sha256).toBe(report.input.sha256);

    // The same campaign joined into one plain file is the same run.
    const joined =
      `${HEADER}\n${rows(1, 150)}${rows(151, 300, '\r\n')}${rows(301, 450)}` +
      `${rows(451, 500)}user-bad,Bad,lots\n${rows(501, 700).slice(0, -1)}`;
    await writeFile(join(dir, 'joined.csv'), joined);
    const one = await runCli(validateArgs(join(dir, 'joined.csv'), join(dir, 'r3')));
    expect(one.code).toBe(1);
    expect(readReport(join(dir, 'r3')).input.sha256).toBe(report.input.sha256);
    expect(readReport(join(dir, 'r3')).issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['invalid-number', undefined, 502],
    ]);
  });
});

function campaign(n: number): string {
  return `${HEADER}\n${rows(1, n)}`;
}

describe('run state on S3 with a lease', () => {
  it('lets one of two simultaneous sends of a run work; the other exits 3 saying who holds it', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ faults: { latencyMs: 60 } });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(400));
    const args = (report: string) =>
      sendArgs(input, `s3://${b}/state/`, join(dir, report), ['--max-part-bytes', '1500']);
    const [a, c] = await Promise.all([
      runCli(args('ra'), { env: env(sb) }),
      runCli(args('rc'), { env: env(sb) }),
    ]);
    const codes = [a.code, c.code].sort();
    expect(codes, `${a.stderr}\n${c.stderr}`).toEqual([0, 3]);
    const loser = a.code === 3 ? a : c;
    expect(loser.stderr).toMatch(
      /Another atomic-bulk send \(host .+, pid \d+\) holds the lease on this run until .+\./,
    );
    expect(loser.stderr).not.toMatch(/at .+\.js:\d+/);
    await sb.settle();
    const users = sb.invocations().map((i) => i.target.atomic___id);
    expect(users).toHaveLength(400);
    expect(new Set(users).size).toBe(400);
  });

  it('after kill -9, a send from another directory waits out the lease, takes over and finishes: 0 lost, 0 duplicated', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ faults: { latencyMs: 100 } });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(400));
    const args = (report: string) =>
      sendArgs(input, `s3://${b}/state/`, join(dir, report), [
        '--max-part-bytes',
        '800',
        '--lease-ttl',
        '3',
        '--progress',
        'json',
      ]);
    const { code } = await sendUntilUploaded(args('r1'), env(sb), (child) => child.kill('SIGKILL'));
    expect(code).toBeNull();
    const elsewhere = await tempDir('atomic-bulk-other-pod-');
    // At once: the dead send's lease has not run out.
    const early = await runCli(args('r2'), { env: env(sb), cwd: elsewhere });
    expect(early.code, early.stderr).toBe(3);
    expect(early.stderr).toMatch(/holds the lease on this run until/);
    await new Promise((r) => setTimeout(r, 3500));
    const resumed = await runCli(args('r3'), { env: env(sb), cwd: elsewhere });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(
      /Took over the lease of a send that stopped without releasing it/,
    );
    const report = readReport(join(dir, 'r3'));
    expect(report.rows.alreadySent).toBeGreaterThan(0);
    expect(report.rows.sent + report.rows.alreadySent).toBe(400);
    expect(report.destination?.resumedFrom).not.toBeNull();
    await sb.settle();
    const users = sb.invocations().map((i) => i.target.atomic___id);
    expect(new Set(users).size).toBe(400);
    expect(users).toHaveLength(400);
    expect(sb.stats().conflicts).toBe(0);
  });

  it('stops a send whose lease was taken from it, before another part is attempted (exit 3)', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ faults: { latencyMs: 150 } });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(400));
    const theft: { done: Promise<unknown> | null } = { done: null };
    const { code, stdout, stderr } = await sendUntilUploaded(
      sendArgs(input, `s3://${b}/state/`, join(dir, 'r'), [
        '--max-part-bytes',
        '800',
        '--concurrency',
        '1',
        '--lease-ttl',
        '3',
        '--progress',
        'json',
      ]),
      env(sb),
      () => {
        // Someone else's lease, as a send on another machine would write it.
        theft.done = keys(s3, b, 'state/').then((all) =>
          s3.send(
            new PutObjectCommand({
              Bucket: b,
              Key: all.find((k) => k.endsWith('/lease.json')),
              Body: JSON.stringify({
                holder: 'other',
                host: 'elsewhere',
                pid: 1,
                acquiredAt: new Date().toISOString(),
                expiresAt: new Date(Date.now() + 600_000).toISOString(),
                released: false,
              }),
            }),
          ),
        );
      },
    );
    await theft.done;
    const report = readReport(join(dir, 'r'));
    expect(code, stderr).toBe(3);
    expect(stdout).toMatch(/This send lost its lease on s3:.* \(another send took it over\)/);
    expect(report.nextStep).toMatch(/lost its lease/);
    expect(report.outcome).toBe('failed');
    expect(report.rows.sent).toBeLessThan(400);
    await sb.settle();
    expect(sb.invocations().length).toBe(report.rows.sent);
  });

  it('releases the lease on SIGINT, so the next send (elsewhere) starts at once, without a takeover', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ faults: { latencyMs: 100 } });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(300));
    const args = (report: string) =>
      sendArgs(input, `s3://${b}/state/`, join(dir, report), [
        '--max-part-bytes',
        '800',
        '--progress',
        'json',
      ]);
    const { code } = await sendUntilUploaded(args('r1'), env(sb), (child) => child.kill('SIGINT'));
    expect(code).toBe(130);
    const resumed = await runCli(args('r2'), { env: env(sb), cwd: await tempDir() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/Took over/);
    await sb.settle();
    const users = sb.invocations().map((i) => i.target.atomic___id);
    expect(new Set(users).size).toBe(300);
    expect(users).toHaveLength(300);
  });

  it('shows a lease written by someone else as printable text', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(10));
    const args = sendArgs(input, `s3://${b}/state/`, join(dir, 'r'));
    expect((await runCli(args, { env: env(sb) })).code).toBe(0);
    const lease = (await keys(s3, b, 'state/')).find((k) => k.endsWith('/lease.json'));
    await s3.send(
      new PutObjectCommand({
        Bucket: b,
        Key: lease,
        Body: JSON.stringify({
          host: 'evil\u001b[2J\u001b]0;owned\u0007',
          pid: 'x',
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
          released: false,
        }),
      }),
    );
    const held = await runCli([...args, '--force'], { env: env(sb) });
    expect(held.code).toBe(3);
    expect(held.stderr).toMatch(/host evil.*, pid 0\) holds the lease/);
    expect(held.stderr).not.toContain('\u001b');
    expect(held.stderr).not.toContain('\u0007');
  });
});

describe('run state on S3 that atomic-bulk did not write (issue 22)', () => {
  async function stateKey(sb: Sandbox, runId: string): Promise<string> {
    const { runKey } = await import('../../src/state/run-state.js');
    const key = runKey(runId, 'renewal-reminder', 'live', {
      apiOrigin: new URL(sb.url).origin,
      environmentId: sb.environmentId,
    });
    return `state/runs/${key}/`;
  }

  it('refuses a planted manifest claiming a never-sent run was sent in full (exit 2, nothing sent)', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ processQuietMs: 50 });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(30));
    const prefix = await stateKey(sb, 'never-sent');
    const planted = {
      version: 3,
      runId: 'never-sent',
      destination: { apiOrigin: new URL(sb.url).origin, environmentId: sb.environmentId },
      input: { source: input, sha256: '0'.repeat(64), bytes: 1 },
      flow: { flowConfigId: 'renewal-reminder', version: 1, mode: 'live' },
      split: { maxPartBytes: 32_000_000, onInvalid: 'abort' },
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      complete: true,
      sentInFullAt: new Date().toISOString(),
      parts: [],
      seal: 'f'.repeat(64),
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: b,
        Key: `${prefix}manifest.json`,
        Body: JSON.stringify(planted),
      }),
    );
    const run = await runCli(
      sendArgs(input, `s3://${b}/state/`, join(dir, 'r'), ['--run-id', 'never-sent']),
      { env: env(sb) },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is not sealed with these credentials');
    expect(run.stdout).not.toContain('Success');
    await sb.settle();
    expect(sb.invocations()).toHaveLength(0);
  });

  it('never takes another run’s planted id file for its invocations.csv', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox({ processQuietMs: 50 });
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(20));
    const prefix = await stateKey(sb, 'own-run');
    const foreign = '2,5d0f1c2e-0000-4000-8000-00000000beef\n';
    await s3.send(
      new PutObjectCommand({ Bucket: b, Key: `${prefix}parts/part-0001.ids.csv`, Body: foreign }),
    );
    const report = join(dir, 'r');
    const run = await runCli(sendArgs(input, `s3://${b}/state/`, report, ['--run-id', 'own-run']), {
      env: env(sb),
    });
    expect(run.code, run.stderr).toBe(0);
    const written = readFileSync(join(report, 'invocations.csv'), 'utf8');
    expect(written).not.toContain('beef');
    expect(written.trim().split('\n')).toHaveLength(21);
    const stored = await s3.send(
      new GetObjectCommand({ Bucket: b, Key: `${prefix}parts/part-0001.ids.csv` }),
    );
    expect(await stored.Body?.transformToString()).not.toContain('beef');
    // A resume from another folder (already sent) re-makes the same list from S3.
    const again = await runCli(
      sendArgs(input, `s3://${b}/state/`, join(dir, 'again'), ['--run-id', 'own-run']),
      { env: env(sb) },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'again', 'invocations.csv'), 'utf8')).toBe(written);
  });

  it('honours a lease claiming to run until 2099 for at most --lease-ttl after it was written', async () => {
    const s3 = client();
    const b = await bucket(s3);
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(10));
    const prefix = await stateKey(sb, 'leased');
    await s3.send(
      new PutObjectCommand({
        Bucket: b,
        Key: `${prefix}lease.json`,
        Body: JSON.stringify({
          holder: 'x',
          host: 'squatter',
          pid: 1,
          acquiredAt: new Date().toISOString(),
          expiresAt: '2099-01-01T00:00:00.000Z',
          released: false,
        }),
      }),
    );
    const args = sendArgs(input, `s3://${b}/state/`, join(dir, 'r'), [
      '--run-id',
      'leased',
      '--lease-ttl',
      '3',
    ]);
    const held = await runCli(args, { env: env(sb) });
    expect(held.code).toBe(3);
    expect(held.stderr).toContain('host squatter');
    expect(held.stderr).not.toContain('2099');
    await new Promise((r) => setTimeout(r, 4000));
    const taken = await runCli(args, { env: env(sb) });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toContain('Took over the lease');
  });
});
