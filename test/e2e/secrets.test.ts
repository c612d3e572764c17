/**
 * Secrets and customer data never leak (issue: hardening). Every command runs with a known
 * client secret against sandboxes that report each credential they hand out (access
 * tokens, presigned policies and signatures); a marked invalid row carries distinctive
 * cell values. Then stdout, stderr, every report file, the state dir and the split parts
 * are scanned: no credential may appear anywhere, and the marked row's values only in
 * rejected.csv, which is the user's own data to fix.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import {
  BIN,
  expectNoStack,
  ROOT,
  runCli,
  SAMPLES,
  sendArgs,
  tempDir,
  type CliRun,
} from './cli.js';

const SECRET = `cs_${randomBytes(18).toString('hex')}`;
const WRONG_SECRET = `cs_${randomBytes(18).toString('hex')}`;
const MARK = randomBytes(6).toString('hex');
/** The marked row's cells: an invalid amount makes the whole row rejected. */
const MARKED = {
  target: `target-${MARK}`,
  name: `Name${MARK}`,
  amount: `amount-${MARK}`,
  note: `note ${MARK}`,
};

function campaign(n: number): string {
  const rows = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,payload.variables.renewalDate,payload.metadata.note',
  ];
  for (let i = 1; i <= n; i++) {
    if (i === 17)
      rows.push(`${MARKED.target},"${MARKED.name}",${MARKED.amount},2027-01-02,"${MARKED.note}"`);
    else
      rows.push(
        `user-${i},"Ana ${i}",${i}.25,2027-02-${String(1 + (i % 28)).padStart(2, '0')},plain`,
      );
  }
  return `${rows.join('\n')}\n`;
}

interface Watched {
  sandbox: Sandbox;
  credentials: Set<string>;
}

const credentials = new Set<string>();

async function watchedSandbox(options: SandboxOptions): Promise<Watched> {
  const sandbox = await createSandbox({
    clientSecret: SECRET,
    ...options,
    onCredential: (_kind, value) => credentials.add(value),
  });
  onTestFinished(() => sandbox.stop());
  return { sandbox, credentials };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

/** Where each needle was found, as `place: needle-kind`; empty when nothing leaked. */
function leaks(places: { name: string; text: string; ownData: boolean }[]): string[] {
  const found: string[] = [];
  const needles: { kind: string; value: string }[] = [
    { kind: 'client secret', value: SECRET },
    { kind: 'wrong client secret', value: WRONG_SECRET },
    ...[...credentials].flatMap((value) => [
      { kind: 'credential', value },
      // A truncated credential is a leak too.
      { kind: 'credential prefix', value: value.slice(0, 16) },
    ]),
  ];
  const marked = Object.values(MARKED).map((value) => ({ kind: 'marked cell value', value }));
  for (const place of places) {
    for (const needle of needles)
      if (place.text.includes(needle.value)) found.push(`${place.name}: ${needle.kind}`);
    if (!place.ownData)
      for (const needle of marked)
        if (place.text.includes(needle.value)) found.push(`${place.name}: ${needle.kind}`);
    // Presigned query strings and POST policies never appear, whatever their value.
    if (/X-Amz-Signature=|X-Amz-Credential=|"policy"\s*:/i.test(place.text))
      found.push(`${place.name}: presigned query or policy`);
  }
  return found;
}

/** Starts `atomic-bulk sandbox`, waits for its settings, stops it with SIGINT. */
function runSandboxCommand(env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', '--verbose'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!stopped && stderr.includes('Ctrl-C to stop')) {
        stopped = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('no secret or customer data in any output', () => {
  it(
    'runs every command with a known secret; scans stdout, stderr, reports, state and parts',
    { timeout: 240_000 },
    async () => {
      const dir = await tempDir('atomic-bulk-secrets-');
      const input = join(dir, 'campaign.csv');
      await writeFile(input, campaign(400));

      // POST through the gateway with every fault that produces error text: 5xx on both
      // calls, expired URLs (short TTL + slow uploads), resets, revoked and short-lived tokens.
      const post = await watchedSandbox({
        tokenTtlSeconds: 3,
        urlTtlSeconds: 1,
        faults: {
          seed: 11,
          csvTask5xxRate: 0.2,
          upload5xxRate: 0.2,
          uploadResetRate: 0.1,
          slowUploadRate: 0.2,
          slowUploadMs: 1500,
          tokenRevokeRate: 0.05,
          retryAfterSeconds: 1,
        },
      });
      // Presigned PUT URLs carry their signature in the query string.
      const put = await watchedSandbox({ uploadMethod: 'put' });

      const env = (sb: Sandbox, secret = SECRET) => ({ ...sb.env, ATOMIC_CLIENT_SECRET: secret });
      const small = ['--max-part-bytes', '4000'];
      const send = (state: string, report: string, extra: string[]) =>
        sendArgs(input, join(dir, state), join(dir, report), extra);
      const runs: { args: string[]; env: Record<string, string>; code: number }[] = [
        {
          args: [
            'validate',
            input,
            '--flow-config',
            join(SAMPLES, 'flows/renewal-reminder.json'),
            '--report-dir',
            join(dir, 'r-validate-file'),
          ],
          env: env(post.sandbox),
          code: 1,
        },
        {
          args: [
            'validate',
            input,
            '--flow',
            'renewal-reminder',
            '--report-dir',
            join(dir, 'r-validate-api'),
            '--json',
            '--verbose',
          ],
          env: env(post.sandbox),
          code: 1,
        },
        // A structural split: the marked row is well-formed CSV, so it is in a part (the user's data).
        {
          args: [
            'split',
            input,
            '--out-dir',
            join(dir, 'parts'),
            '--report-dir',
            join(dir, 'r-split'),
            ...small,
          ],
          env: env(post.sandbox),
          code: 0,
        },
        { args: ['template', '--flow', 'renewal-reminder'], env: env(post.sandbox), code: 0 },
        { args: ['flows', 'list'], env: env(post.sandbox), code: 0 },
        { args: ['flows', 'list', '--json', '--verbose'], env: env(post.sandbox), code: 0 },
        {
          args: ['flows', 'get', 'renewal-reminder', '--verbose'],
          env: env(post.sandbox),
          code: 0,
        },
        { args: ['flows', 'get', 'no-such-flow'], env: env(post.sandbox), code: 3 },
        {
          args: send('state-dry', 'r-dry', ['--dry-run', '--on-invalid', 'skip']),
          env: env(post.sandbox),
          code: 4,
        },
        {
          args: send('state-abort', 'r-abort', ['--on-invalid', 'abort']),
          env: env(post.sandbox),
          code: 1,
        },
        {
          args: send('state-post', 'r-post', [
            '--on-invalid',
            'skip',
            '--verbose',
            '--progress',
            'json',
            ...small,
          ]),
          env: env(post.sandbox),
          code: 4,
        },
        {
          args: send('state-post', 'r-post-again', ['--on-invalid', 'skip', '--json', ...small]),
          env: env(post.sandbox),
          code: 4,
        },
        {
          args: send('state-put', 'r-put', ['--on-invalid', 'skip', '--verbose', ...small]),
          env: env(put.sandbox),
          code: 4,
        },
        {
          args: send('state-wrong', 'r-wrong', ['--on-invalid', 'skip', '--verbose']),
          env: env(put.sandbox, WRONG_SECRET),
          code: 3,
        },
      ];

      const places: { name: string; text: string; ownData: boolean }[] = [];
      for (const run of runs) {
        const result = await runCli(run.args, { env: run.env, timeoutMs: 180_000 });
        const label = run.args
          .slice(0, 2)
          .map((a) => (a.startsWith('/') ? basename(a) : a))
          .join(' ');
        expect({
          label,
          code: result.code,
          stderr: result.code === run.code ? '' : result.stderr,
        }).toEqual({ label, code: run.code, stderr: '' });
        expectNoStack(result);
        places.push(
          { name: `${label} stdout`, text: result.stdout, ownData: false },
          { name: `${label} stderr`, text: result.stderr, ownData: false },
        );
      }
      const sandboxRun = await runSandboxCommand({
        ...post.sandbox.env,
        ATOMIC_CLIENT_SECRET: SECRET,
      });
      expect(sandboxRun.code).toBe(0);
      places.push(
        { name: 'sandbox stdout', text: sandboxRun.stdout, ownData: false },
        { name: 'sandbox stderr', text: sandboxRun.stderr, ownData: false },
      );

      for (const file of filesUnder(dir)) {
        if (file === input) continue;
        places.push({
          name: relative(dir, file),
          text: readFileSync(file, 'latin1') + readFileSync(file, 'utf8'),
          ownData:
            basename(file) === 'rejected.csv' || /^parts\/part-\d+\.csv$/.test(relative(dir, file)),
        });
      }

      // The scan is only worth something if there was something to find.
      expect(credentials.size).toBeGreaterThan(20);
      expect(post.sandbox.stats().faults).toMatchObject({
        'csv-task-5xx': expect.any(Number) as number,
        'upload-5xx': expect.any(Number) as number,
      });
      expect(post.sandbox.invocations().length).toBe(399);
      expect(put.sandbox.invocations().length).toBe(399);
      const rejected = places.filter((p) => basename(p.name) === 'rejected.csv');
      expect(rejected.length).toBeGreaterThanOrEqual(6);
      for (const file of rejected) expect(file.text).toContain(MARKED.amount);
      expect(places.filter((p) => p.name.startsWith('state-post')).length).toBeGreaterThan(0);

      expect(leaks(places)).toEqual([]);
    },
  );
});
