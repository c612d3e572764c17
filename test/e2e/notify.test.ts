/**
 * --notify (SPEC 9) against a real HTTP receiver on 127.0.0.1: a send that succeeds, one
 * with invalid rows, one that fails before its report, one interrupted; reconcile and
 * cancel; a receiver that is down, answers 500, or redirects. The exit code never changes,
 * the body is signed and carries counts and names only, and the webhook's path (its secret)
 * appears nowhere.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { BIN, readReport, ROOT, runCli, sendArgs, tempDir } from './cli.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver answering `status` (and `location` for redirects), keeping what arrives. */
async function receiver(status = 200, location?: string) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(status, location === undefined ? {} : { location });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { received, origin, url: `${origin}/services/T000/B000/the-webhook-secret-path` };
}

/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}

async function sandbox(options: Parameters<typeof createSandbox>[0] = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

const SECRET = 'notify-signing-secret-of-the-test';
const CELL = 'Zelda-Unmistakable';

async function campaign(rows = 20, bad = 0): Promise<{ dir: string; input: string }> {
  const dir = await tempDir();
  const input = join(dir, 'in.csv');
  const lines = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount',
  ];
  for (let i = 1; i <= rows; i++) lines.push(`user-${i},${CELL},${i <= bad ? 'not-a-number' : i}`);
  await writeFile(input, `${lines.join('\n')}\n`);
  return { dir, input };
}

function summaryOf(r: Received): Record<string, unknown> {
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** Nothing secret or personal in what was sent, printed or written. */
function expectClean(texts: string[], sb: Sandbox): void {
  for (const text of texts) {
    expect(text).not.toContain('the-webhook-secret-path');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(sb.clientSecret);
    expect(text).not.toContain(CELL);
  }
}

describe('--notify', () => {
  it('tells a successful send once, signed, with counts and names only', async () => {
    const sb = await sandbox();
    const hook = await receiver();
    const { dir, input } = await campaign(20);
    const run = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r'), ['--notify', hook.url]),
      {
        env: { ...sb.env, ATOMIC_BULK_NOTIFY_SECRET: SECRET },
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(hook.received).toHaveLength(1);
    const [got] = hook.received as [Received];
    expect(got.path).toBe('/services/T000/B000/the-webhook-secret-path');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-atomic-bulk-signature']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`,
    );
    const report = readReport(join(dir, 'r'));
    expect(summaryOf(got)).toMatchObject({
      tool: 'atomic-bulk',
      command: 'send',
      runId: report.runId,
      flow: 'renewal-reminder',
      environment: sb.environmentId,
      mode: 'live',
      status: 'success',
      exitCode: 0,
      counts: { total: 20, valid: 20, sent: 20 },
      report: join(dir, 'r'),
    });
    expect(summaryOf(got).text).toMatch(/^atomic-bulk send, exit 0: .*20 rows/);
    expect(report.notifications).toEqual([
      { to: hook.origin, ok: true, status: 200, attempts: 1, error: null },
    ]);
    const files = ['report.json', 'report.md', 'report.html'].map((f) =>
      readFileSync(join(dir, 'r', f), 'utf8'),
    );
    expectClean([got.body, run.stdout, run.stderr, ...files], sb);
  });

  it('tells a send with invalid rows (exit 1) and one that fails before its report (exit 2)', async () => {
    const sb = await sandbox();
    const hook = await receiver();
    const { dir, input } = await campaign(10, 3);
    const invalid = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r'), ['--on-invalid', 'abort']),
      { env: { ...sb.env, ATOMIC_BULK_NOTIFY_URL: hook.url } },
    );
    expect(invalid.code).toBe(1);
    expect(summaryOf(hook.received[0] as Received)).toMatchObject({
      status: 'invalid',
      exitCode: 1,
      counts: { invalid: 3, sent: 0 },
    });
    const missing = await runCli(
      sendArgs(join(dir, 'nope.csv'), join(dir, 's'), join(dir, 'r2'), ['--notify', hook.url]),
      { env: sb.env },
    );
    expect(missing.code).toBe(2);
    expect(hook.received).toHaveLength(2);
    const failed = summaryOf(hook.received[1] as Received);
    expect(failed).toMatchObject({ status: 'failed', exitCode: 2, report: null, runId: null });
    expect(String(failed.error)).toContain('nope.csv');
    expectClean(
      hook.received.map((r) => r.body),
      sb,
    );
  });

  it('tells an interrupted send (exit 130)', async () => {
    const sb = await sandbox({ faults: { latencyMs: 120 } });
    const hook = await receiver();
    const { dir, input } = await campaign(400);
    const args = sendArgs(input, join(dir, 's'), join(dir, 'r'), [
      '--max-part-bytes',
      '800',
      '--progress',
      'json',
      '--notify',
      hook.url,
    ]);
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...sb.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let killed = false;
    child.stderr.on('data', (d: Buffer) => {
      if (!killed && d.toString().includes('"status":"uploaded"')) {
        killed = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(hook.received).toHaveLength(1);
    expect(summaryOf(hook.received[0] as Received)).toMatchObject({
      status: 'interrupted',
      exitCode: 130,
    });
    expect(readReport(join(dir, 'r')).notifications?.[0]?.ok).toBe(true);
  }, 60_000);

  it('tells reconcile and cancel, each with its own outcome', async () => {
    const sb = await sandbox();
    const hook = await receiver();
    const { dir, input } = await campaign(5);
    expect(
      (await runCli(sendArgs(input, join(dir, 's'), join(dir, 'r')), { env: sb.env })).code,
    ).toBe(0);
    await sb.settle();
    const reconcile = await runCli(['reconcile', join(dir, 'r'), '--notify', hook.url], {
      env: sb.env,
    });
    expect(reconcile.code, reconcile.stderr).toBe(0);
    expect(summaryOf(hook.received[0] as Received)).toMatchObject({
      command: 'reconcile',
      status: 'delivered',
      exitCode: 0,
      counts: { rows: 5, withCards: 5, delivered: 5 },
    });
    const cancel = await runCli(['cancel', join(dir, 'r'), '--notify', hook.url], { env: sb.env });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(summaryOf(hook.received[1] as Received)).toMatchObject({
      command: 'cancel',
      status: 'counted',
      counts: { rows: 5, cardsMatched: 5, cancelled: 0 },
    });
    expect(readReport(join(dir, 'r')).notifications).toEqual([
      { to: hook.origin, ok: true, status: 200, attempts: 1, error: null },
    ]);
  });

  it('keeps the exit code when the receiver is down, fails, or redirects; says so and records it', async () => {
    const sb = await sandbox();
    const down = await closedPort();
    const failing = await receiver(500);
    const target = await receiver();
    const redirecting = await receiver(302, target.url);
    const { dir, input } = await campaign(5);
    const run = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r'), [
        '--notify',
        down,
        '--notify',
        failing.url,
        '--notify',
        redirecting.url,
      ]),
      { env: sb.env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(failing.received).toHaveLength(3);
    expect(redirecting.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
    const records = readReport(join(dir, 'r')).notifications ?? [];
    expect(records.map((r) => [r.to, r.ok, r.status, r.attempts])).toEqual([
      [new URL(down).origin, false, null, 3],
      [failing.origin, false, 500, 3],
      [redirecting.origin, false, 302, 1],
    ]);
    expect(records[2]?.error).toMatch(/redirect/);
    const md = readFileSync(join(dir, 'r', 'report.md'), 'utf8');
    expect(md).toContain('## Notifications');
    expect(md).toContain(`| ${failing.origin} | failed after 3 attempts: HTTP 500 |`);
    expect(run.stderr).toContain(
      `Notification to ${failing.origin} failed after 3 attempts: HTTP 500`,
    );
    expect(run.stderr).toContain(`Notification to ${new URL(down).origin} failed`);
    expectClean([run.stdout, run.stderr, readFileSync(join(dir, 'r', 'report.json'), 'utf8')], sb);
  }, 60_000);

  it('refuses a plain-http receiver off this machine before anything runs (exit 2)', async () => {
    const sb = await sandbox();
    const { dir, input } = await campaign(3);
    const run = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r'), ['--notify', 'http://hooks.example.com/x']),
      { env: sb.env },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--notify must be an https:// URL');
    expect(sb.stats().tasks).toBe(0);
  });
});
