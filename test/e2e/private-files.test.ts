/**
 * Personal data on disk: every folder the tool makes is 0700 and every file 0600 even
 * under umask 000; part files never outlive their run; `runs list|prune` shows and
 * removes old runs, never one a live send holds.
 */
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { RENEWAL_FLOW, runCli, SAMPLES, sendArgs, tempDir } from './cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

/** Every path under `root` whose mode is not 0700 (folders) or 0600 (files). */
async function notPrivate(root: string): Promise<string[]> {
  const wrong: string[] = [];
  const walk = async (path: string) => {
    const s = await lstat(path);
    const mode = s.mode & 0o777;
    if (s.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path} ${mode.toString(8)}`);
      for (const name of await readdir(path)) await walk(join(path, name));
    } else if (s.isFile() && mode !== 0o600) wrong.push(`${path} ${mode.toString(8)}`);
  };
  await walk(root);
  return wrong;
}

async function partFilesUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string) => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (/^part-\d+\.csv$|\.tmp$/.test(entry.name)) found.push(full);
    }
  };
  await walk(root);
  return found;
}

function campaign(n: number): string {
  const rows = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount',
  ];
  for (let i = 1; i <= n; i++) rows.push(`user-${i},Name ${i},${i}`);
  return `${rows.join('\n')}\n`;
}

describe('files the tool writes are private, whatever the umask', () => {
  it('send, dry run, split and validate make 0700 folders and 0600 files under umask 000', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(200));
    const umask = 0o000;
    const send = await runCli(
      sendArgs(input, join(dir, 'state'), join(dir, 'report'), [
        '--max-part-bytes',
        '1000',
        '--keep-parts',
      ]),
      { env: sb.env, umask },
    );
    expect(send.code, send.stderr).toBe(0);
    const dry = await runCli(
      sendArgs(input, join(dir, 'state'), join(dir, 'dry-report'), [
        '--dry-run',
        '--keep-parts',
        '--run-id',
        'rehearsal',
      ]),
      { env: sb.env, umask },
    );
    expect(dry.code, dry.stderr).toBe(0);
    const split = await runCli(
      ['split', input, '--out-dir', join(dir, 'parts'), '--report-dir', join(dir, 'split-report')],
      { umask },
    );
    expect(split.code, split.stderr).toBe(0);
    const validate = await runCli(
      [
        'validate',
        join(SAMPLES, 'campaign-with-mistakes.csv'),
        '--flow-config',
        RENEWAL_FLOW,
        '--report-dir',
        join(dir, 'validate-report'),
      ],
      { umask },
    );
    expect(validate.code).toBe(1);
    expect(await readdir(join(dir, 'validate-report'))).toContain('rejected.csv');
    expect(await partFilesUnder(join(dir, 'state'))).not.toEqual([]);
    for (const root of [
      'state',
      'report',
      'dry-report',
      'parts',
      'split-report',
      'validate-report',
    ])
      expect(await notPrivate(join(dir, root)), root).toEqual([]);
  });

  it('leaves no part file behind after a send that succeeds, one that fails, and one killed earlier', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    await writeFile(input, campaign(300));
    const ok = await sandbox();
    const run = await runCli(
      sendArgs(input, join(dir, 's'), join(dir, 'r1'), ['--max-part-bytes', '1000']),
      {
        env: ok.env,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(await partFilesUnder(join(dir, 's'))).toEqual([]);

    // The same flow, unpublished at the sandbox while the local copy says published: the
    // send starts, and every csv-task is refused (422) once parts are cut.
    const flows = join(dir, 'flows');
    await mkdir(flows);
    await writeFile(
      join(flows, 'renewal-reminder.json'),
      (await readFile(RENEWAL_FLOW, 'utf8')).replace('"published"', '"draft"'),
    );
    const failing = await sandbox({ flowsDir: flows });
    const failed = await runCli(
      sendArgs(input, join(dir, 's2'), join(dir, 'r2'), [
        '--max-part-bytes',
        '1000',
        '--flow-config',
        RENEWAL_FLOW,
      ]),
      { env: failing.env, timeoutMs: 120_000 },
    );
    expect(failed.code).toBe(3);
    expect(await partFilesUnder(join(dir, 's2'))).toEqual([]);

    // A part (and a temporary file) left by a process that was killed, one a symlink to a
    // file elsewhere: the next send removes them and never writes through the link.
    const [key] = await readdir(join(dir, 's2', 'runs'));
    const parts = join(dir, 's2', 'runs', key as string, 'parts');
    const outside = join(dir, 'outside.txt');
    await writeFile(outside, 'untouched');
    await writeFile(join(parts, 'part-0002.csv'), 'user-1,Name,1\n');
    await writeFile(join(parts, 'part-0003.csv.abc.tmp'), 'user-1');
    await symlink(outside, join(parts, 'part-0001.csv'));
    const resumed = await runCli(
      sendArgs(input, join(dir, 's2'), join(dir, 'r3'), [
        '--max-part-bytes',
        '1000',
        '--flow-config',
        RENEWAL_FLOW,
      ]),
      { env: failing.env, timeoutMs: 120_000 },
    );
    expect(resumed.code).toBe(3);
    expect(await partFilesUnder(join(dir, 's2'))).toEqual([]);
    expect(await readFile(outside, 'utf8')).toBe('untouched');
  }, 180_000);
});

describe('atomic-bulk runs', () => {
  it('lists runs, prunes old ones and one by name, and keeps a run a live send holds', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const state = join(dir, 's');
    for (const id of ['first', 'second']) {
      const input = join(dir, `${id}.csv`);
      await writeFile(input, campaign(20));
      const run = await runCli(sendArgs(input, state, join(dir, `r-${id}`), ['--run-id', id]), {
        env: sb.env,
      });
      expect(run.code, run.stderr).toBe(0);
    }
    const list = await runCli(['runs', 'list', '--state-dir', state]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /^first-live-\w+ .*sent in full flow renewal-reminder \(live\) → http:\/\/127\.0\.0\.1:\d+, environment sandbox-[0-9a-f]{8}$/m,
    );
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
    const json = JSON.parse(
      (await runCli(['runs', 'list', '--state-dir', state, '--json'])).stdout,
    ) as {
      key: string;
      uploaded: number;
      partFiles: number;
    }[];
    expect(json.map((r) => r.partFiles)).toEqual([0, 0]);

    // Nothing is older than 30 days.
    const none = await runCli(['runs', 'prune', '--state-dir', state]);
    expect(none.stdout).toContain('Nothing to prune');
    const dry = await runCli([
      'runs',
      'prune',
      '--state-dir',
      state,
      '--older-than',
      '0',
      '--dry-run',
    ]);
    expect(dry.stdout.match(/^Would remove/gm)).toHaveLength(2);
    expect(await readdir(join(state, 'runs'))).toHaveLength(2);

    // A live send holds the first run: its lock names a live process (this one).
    const first = json.find((r) => r.key.startsWith('first'))?.key as string;
    await writeFile(join(state, 'runs', first, 'lock'), String(process.pid));
    const busy = await runCli(['runs', 'prune', '--state-dir', state, '--older-than', '0']);
    expect(busy.code).toBe(0);
    expect(busy.stderr).toContain(`Kept ${first}: a send (pid ${process.pid}) is working on it.`);
    expect(await readdir(join(state, 'runs'))).toEqual([first]);

    await writeFile(join(state, 'runs', first, 'lock'), '999999999');
    const named = await runCli(['runs', 'prune', '--state-dir', state, '--run', first]);
    expect(named.stdout).toContain(`Removed ${first}`);
    expect(await readdir(join(state, 'runs'))).toEqual([]);

    const unknown = await runCli(['runs', 'prune', '--state-dir', state, '--run', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No run named nope');
    const badAge = await runCli(['runs', 'prune', '--state-dir', state, '--older-than', 'soon']);
    expect(badAge.code).toBe(2);
    await mkdir(join(state, 'runs', 'junk'));
    expect((await runCli(['runs', 'list', '--state-dir', state])).stdout).toContain('junk');
  });
});
