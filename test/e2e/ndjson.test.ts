/**
 * A cron job that reads only the NDJSON stream and the exit code (issue 23): under
 * --progress json every stderr line is an event of schemas/progress-event.schema.json and
 * the last is an `outcome` with the exit code — on success, invalid rows, a usage error,
 * a header mismatch between shards, a held run and an unreachable API.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { readReport, ROOT, runCli, sendArgs, tempDir, type CliRun } from './cli.js';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const isEvent = ajv.compile(
  JSON.parse(readFileSync(join(ROOT, 'schemas/progress-event.schema.json'), 'utf8')) as object,
);

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName';

function events(run: CliRun): { type: string; exitCode?: number }[] {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    let parsed: unknown;
    expect(() => {
      parsed = JSON.parse(line) as unknown;
    }, line).not.toThrow();
    expect(isEvent(parsed), `${line}\n${JSON.stringify(isEvent.errors)}`).toBe(true);
    return parsed as { type: string; exitCode?: number };
  });
}

function expectOutcome(run: CliRun, code: number): { type: string; exitCode?: number }[] {
  const all = events(run);
  expect(run.code).toBe(code);
  expect(all.at(-1)).toMatchObject({ type: 'outcome', exitCode: code });
  return all;
}

describe('--progress json on every exit path', () => {
  it('success, invalid rows and a usage error', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    await writeFile(join(dir, 'ok.csv'), `${HEADER}\ncustomer-01,Ann\n`);
    await writeFile(join(dir, 'bad.csv'), `${HEADER}\ncustomer-01,Ann,extra\n`);
    const json = ['--progress', 'json'];
    const ok = await runCli(
      [...sendArgs(join(dir, 'ok.csv'), join(dir, 's'), join(dir, 'r1')), ...json],
      { env: sb.env },
    );
    expect(expectOutcome(ok, 0).some((e) => e.type === 'part')).toBe(true);
    const bad = await runCli(
      [...sendArgs(join(dir, 'bad.csv'), join(dir, 's'), join(dir, 'r2')), ...json],
      { env: sb.env },
    );
    expectOutcome(bad, 1);
    const usage = await runCli(['send', join(dir, 'ok.csv'), '--concurrency', '9', ...json], {
      env: sb.env,
    });
    expect(expectOutcome(usage, 2).some((e) => e.type === 'message')).toBe(true);
  });

  it('a header mismatch between shards, and an unreachable API', async () => {
    const dir = await tempDir();
    const shards = join(dir, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'a.csv'), `${HEADER}\ncustomer-01,Ann\n`);
    await writeFile(join(shards, 'b.csv'), `target.attributes.atomic___id\ncustomer-02\n`);
    const mismatch = await runCli([
      'validate',
      shards,
      '--flow-config',
      join(ROOT, 'samples/flows/renewal-reminder.json'),
      '--progress',
      'json',
      '--report-dir',
      join(dir, 'r'),
    ]);
    expect(expectOutcome(mismatch, 2).some((e) => e.type === 'error')).toBe(true);
    const unreachable = await runCli(
      [...sendArgs(join(shards, 'a.csv'), join(dir, 's'), join(dir, 'r2')), '--progress', 'json'],
      {
        env: {
          ATOMIC_BASE_URL: 'http://127.0.0.1:9',
          ATOMIC_TOKEN_URL: 'http://127.0.0.1:9/oauth2/token',
          ATOMIC_ENVIRONMENT_ID: 'env',
          ATOMIC_CLIENT_ID: 'id',
          ATOMIC_CLIENT_SECRET: 'secret',
        },
        timeoutMs: 120_000,
      },
    );
    expect(expectOutcome(unreachable, 3).some((e) => e.type === 'error')).toBe(true);
  }, 120_000);

  it('a run held by another send', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    const input = join(dir, 'ok.csv');
    await writeFile(input, `${HEADER}\ncustomer-01,Ann\n`);
    const { runKey } = await import('../../src/state/run-state.js');
    const { createHash } = await import('node:crypto');
    const runId = createHash('sha256').update(readFileSync(input)).digest('hex');
    const key = runKey(runId, 'renewal-reminder', 'live', {
      apiOrigin: new URL(sb.url).origin,
      environmentId: sb.environmentId,
    });
    const runDir = join(dir, 's', 'runs', key);
    await mkdir(runDir, { recursive: true });
    // The lock of a live process (this test's).
    await writeFile(join(runDir, 'lock'), String(process.pid));
    const held = await runCli(
      [...sendArgs(input, join(dir, 's'), join(dir, 'r')), '--progress', 'json'],
      { env: sb.env },
    );
    const all = expectOutcome(held, 3);
    expect(all.find((e) => e.type === 'error')).toMatchObject({ code: 'BUSY' });
    // The report folder it took says what happened.
    expect(readReport(join(dir, 'r'))).toMatchObject({ outcome: 'failed', exitCode: 3 });
    expect(readReport(join(dir, 'r')).nextStep).toMatch(/is working on this run/);
  });
});

describe('a report folder taken is never left empty', () => {
  it('says in report.json why validate and send stopped on shards whose headers differ', async () => {
    const dir = await tempDir();
    const shards = join(dir, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'a.csv'), `${HEADER}\ncustomer-01,Ann\n`);
    await writeFile(join(shards, 'b.csv'), `target.attributes.atomic___id\ncustomer-02\n`);
    for (const command of ['validate', 'send']) {
      const report = join(dir, `r-${command}`);
      const args =
        command === 'validate'
          ? [
              'validate',
              shards,
              '--flow-config',
              join(ROOT, 'samples/flows/renewal-reminder.json'),
              '--report-dir',
              report,
            ]
          : [...sendArgs(shards, join(dir, 's'), report), '--sandbox'];
      const run = await runCli(args);
      expect(run.code).toBe(2);
      expect(readReport(report)).toMatchObject({
        command,
        outcome: 'failed',
        exitCode: 2,
        input: { sha256: null },
      });
      expect(readReport(report).nextStep).toContain('has a different header');
    }
  });
});
