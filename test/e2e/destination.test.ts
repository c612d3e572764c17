/**
 * A run belongs to its destination (SPEC 3.1): state written while sending to one Atomic
 * (one sandbox, one environment, one mode) never makes a send to another look done.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { runKey } from '../../src/state/run-state.js';
import { readReport, runCli, tempDir } from './cli.js';
import { createHash } from 'node:crypto';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

const ROWS = 40;
function campaign(): string {
  const rows = ['target.attributes.atomic___id,payload.variables.firstName'];
  for (let i = 1; i <= ROWS; i++) rows.push(`user-${i},Name ${i}`);
  return `${rows.join('\n')}\n`;
}

async function setup() {
  const dir = await tempDir();
  const input = join(dir, 'campaign.csv');
  await writeFile(input, campaign());
  let n = 0;
  const send = (env: Record<string, string>, extra: string[] = []) =>
    runCli(
      [
        'send',
        input,
        '--flow',
        'renewal-reminder',
        '--max-part-bytes',
        '300',
        '--report-dir',
        join(dir, `r${++n}`),
        ...extra,
      ],
      { env, cwd: dir },
    );
  return { dir, input, send, report: () => readReport(join(dir, `r${n}`)) };
}

/** Every row of the campaign arrived exactly once, in `mode`. */
async function expectAllOnce(sb: Sandbox, mode: 'live' | 'test' = 'live'): Promise<void> {
  await sb.settle();
  const got = sb.invocations().filter((i) => i.mode === mode);
  expect(got.map((i) => i.target.atomic___id).sort()).toEqual(
    Array.from({ length: ROWS }, (_, i) => `user-${i + 1}`).sort(),
  );
  expect(sb.stats().conflicts).toBe(0);
}

describe('a run belongs to its destination', () => {
  it('a sandbox rehearsal does not make the real send look done, and leaves no state behind', async () => {
    const { dir, send, report } = await setup();
    const rehearsal = await send({}, ['--sandbox']);
    expect(rehearsal.code, rehearsal.stderr).toBe(0);
    expect(existsSync(join(dir, '.atomic-bulk'))).toBe(false);
    const real = await sandbox();
    const run = await send(real.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Success: 40 rows sent in \d+ parts; 40 of 40 rows valid/);
    await expectAllOnce(real);
    expect(report().rows).toMatchObject({ sent: ROWS, alreadySent: 0 });
  });

  it('sends every row to a second, independent sandbox after a full send to the first', async () => {
    const { send, report } = await setup();
    const first = await sandbox();
    expect((await send(first.env)).code).toBe(0);
    const second = await sandbox();
    const run = await send(second.env);
    expect(run.code, run.stderr).toBe(0);
    await expectAllOnce(second);
    expect(report()).toMatchObject({
      rows: { sent: ROWS, alreadySent: 0 },
      destination: { apiOrigin: new URL(second.url).origin, resumedFrom: null },
    });
    // Back to the first: this run is done there, and says so without uploading.
    const tasks = first.tasks().length;
    const again = await send(first.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing uploaded: this run was already sent in full on 20\d\d-/);
    expect(first.tasks()).toHaveLength(tasks);
    expect(report().rows).toMatchObject({ sent: 0, alreadySent: ROWS });
    // --force uploads every part again, and counts it as this invocation's.
    const forced = await send(first.env, ['--force']);
    expect(forced.code).toBe(0);
    expect(report().rows).toMatchObject({ sent: ROWS, alreadySent: 0 });
    expect(report().parts.every((p) => !p.previouslyUploaded)).toBe(true);
  });

  it('sends every row in test mode after a live send of the same file', async () => {
    const { send } = await setup();
    const sb = await sandbox();
    expect((await send(sb.env)).code).toBe(0);
    const test = await send(sb.env, ['--test']);
    expect(test.code, test.stderr).toBe(0);
    await expectAllOnce(sb, 'test');
    await expectAllOnce(sb, 'live');
  });

  it('sends every row to environment B after environment A on the same API origin', async () => {
    const { send } = await setup();
    const a = await createSandbox({ environmentId: 'env-a' });
    const port = Number(new URL(a.url).port);
    expect((await send(a.env)).code).toBe(0);
    await a.stop();
    const b = await sandbox({ environmentId: 'env-b', port });
    expect(new URL(b.url).origin).toBe(new URL(a.url).origin);
    const run = await send(b.env);
    expect(run.code, run.stderr).toBe(0);
    await expectAllOnce(b);
  });

  it('sends every row again to a sandbox restarted on the same port with the same secret', async () => {
    const { send } = await setup();
    const first = await createSandbox({ clientSecret: 'the-same-secret' });
    const port = Number(new URL(first.url).port);
    expect((await send(first.env)).code).toBe(0);
    await first.stop();
    // The restarted sandbox knows nothing of the first run: it is a new destination.
    const again = await sandbox({ clientSecret: 'the-same-secret', port });
    expect(again.url).toBe(first.url);
    expect(again.environmentId).not.toBe(first.environmentId);
    const run = await send(again.env);
    expect(run.code, run.stderr).toBe(0);
    await expectAllOnce(again);
  });

  it('never takes state written by 0.1.0 as sent, and says why', async () => {
    const { dir, input, send } = await setup();
    const sb = await sandbox();
    const runId = createHash('sha256').update(campaign()).digest('hex');
    const legacy = join(
      dir,
      '.atomic-bulk',
      'runs',
      runKey(runId, 'renewal-reminder', 'live', null),
    );
    mkdirSync(legacy, { recursive: true });
    writeFileSync(
      join(legacy, 'manifest.json'),
      JSON.stringify({
        version: 1,
        runId,
        complete: true,
        parts: [{ number: 1, status: 'uploaded' }],
      }),
    );
    expect(input).toContain(dir);
    const run = await send(sb.env, ['--progress', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('State from atomic-bulk 0.1.0 for this run');
    await expectAllOnce(sb);
  });
});

describe('progress events', () => {
  it('carry the bytes accepted, in order, ending at the bytes of every part', async () => {
    const { send, report } = await setup();
    const sb = await sandbox();
    const run = await send(sb.env, ['--progress', 'json']);
    expect(run.code).toBe(0);
    const events = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const accepted = events
      .filter((e) => e.type === 'part' && e.status === 'uploaded')
      .map((e) => e.bytesAccepted as number);
    expect(accepted.length).toBe(report().parts.length);
    expect([...accepted].sort((a, b) => a - b)).toEqual(accepted);
    expect(accepted.at(-1)).toBe(report().parts.reduce((n, p) => n + p.bytes, 0));
    // Reading the input for a part comes before that part's upload.
    const firstUpload = events.findIndex((e) => e.type === 'part' && e.status === 'uploaded');
    const firstSplitRead = events.findIndex((e) => e.type === 'read' && e.phase === 'split');
    expect(firstSplitRead).toBeGreaterThanOrEqual(0);
    expect(firstSplitRead).toBeLessThan(firstUpload);
  });
});
