/**
 * What the tool reads back, it verifies (issue 22): a shard name holding a comma, a quote,
 * a line break and another campaign's id; a report folder mixing two campaigns' files; an
 * edited report or invocations.csv; a planted run manifest or id file. In each, nothing of
 * another campaign is touched and the exit code says what happened.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { expectNoStack, readReport, runCli, sendArgs, tempDir } from './cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName';

async function sandbox(): Promise<Sandbox> {
  const sb = await createSandbox({ processQuietMs: 50 });
  onTestFinished(() => sb.stop());
  return sb;
}

function rowsOf(n: number, from = 1): string[] {
  return Array.from({ length: n }, (_, k) => `customer-${String(from + k).padStart(2, '0')},N${k}`);
}

async function sendDir(sb: Sandbox, input: string, dir: string, extra: string[] = []) {
  const report = join(dir, 'report');
  const run = await runCli(sendArgs(input, join(dir, 'state'), report, extra), { env: sb.env });
  expect(run.code, run.stderr).toBe(0);
  return report;
}

function idsOf(report: string): string[] {
  const rows: { flowInvocationId: string }[] = parse(
    readFileSync(join(report, 'invocations.csv'), 'utf8'),
    { columns: true },
  );
  return rows.map((r) => r.flowInvocationId);
}

function statuses(sb: Sandbox, ids: string[]): string[] {
  return ids.flatMap((id) => sb.cards(id).map((c) => c.status));
}

describe('cancel and reconcile act only on the run’s own ids', () => {
  it('reads a shard name with a comma, a quote, a line break and another campaign’s id as a name', async () => {
    const sb = await sandbox();
    // Campaign B: 5 users, sent first; its ids are what a hostile name smuggles in.
    const b = await tempDir();
    const bInput = join(b, 'b.csv');
    await writeFile(bInput, `${HEADER}\n${rowsOf(5, 10).join('\n')}\n`);
    const reportB = await sendDir(sb, bInput, b, ['--run-id', 'campaign-b']);
    const victim = idsOf(reportB)[0] as string;
    // Campaign A: two shards, the second named to inject B's id as an invocations.csv row.
    const a = await tempDir();
    const shards = join(a, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'part-1.csv'), `${HEADER}\n${rowsOf(2, 1).join('\n')}\n`);
    const hostile = `part-2,"x",${victim}\n9,${victim}\n.csv`;
    await writeFile(join(shards, hostile), `${HEADER}\n${rowsOf(2, 3).join('\n')}\n`);
    const reportA = await sendDir(sb, shards, a);
    await sb.settle();
    expect(idsOf(reportA)).toHaveLength(4);
    expect(idsOf(reportA)).not.toContain(victim);

    const reconciled = await runCli(['reconcile', reportA], { env: sb.env });
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stdout).toContain('all 4 rows have cards');
    const reconciledRows: { line: string }[] = parse(
      readFileSync(join(reportA, 'reconciled.csv'), 'utf8'),
      { columns: true },
    );
    const lines = reconciledRows.map((r) => r.line);
    expect(lines[2]).toBe(`${join(shards, hostile)}:2`);

    const cancelled = await runCli(['cancel', reportA, '--yes'], { env: sb.env });
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain('Cancelled 4 cards');
    expect(statuses(sb, idsOf(reportB))).toEqual(Array(5).fill('active'));
    expect(sb.stats()).toMatchObject({ cancelled: 4, unscopedCancels: 0 });
  });

  it('refuses a folder mixing two campaigns, an edited invocations.csv and an edited report', async () => {
    const sb = await sandbox();
    const a = await tempDir();
    const b = await tempDir();
    const aInput = join(a, 'a.csv');
    const bInput = join(b, 'b.csv');
    await writeFile(aInput, `${HEADER}\n${rowsOf(3, 1).join('\n')}\n`);
    await writeFile(bInput, `${HEADER}\n${rowsOf(5, 10).join('\n')}\n`);
    const reportA = await sendDir(sb, aInput, a);
    const reportB = await sendDir(sb, bInput, b);
    await sb.settle();
    const original = await readFile(join(reportA, 'invocations.csv'));

    // A's report.json beside B's invocations.csv.
    await copyFile(join(reportB, 'invocations.csv'), join(reportA, 'invocations.csv'));
    const mixed = await runCli(['cancel', reportA, '--yes'], { env: sb.env });
    expect(mixed.code).toBe(2);
    expectNoStack(mixed);
    expect(mixed.stderr).toContain(
      'holds an invocations.csv that is not the one this report’s send wrote'.replace('’', "'"),
    );

    // One of B's ids added to A's own file.
    await writeFile(
      join(reportA, 'invocations.csv'),
      `${original.toString()}9,${idsOf(reportB)[0] as string}\n`,
    );
    expect((await runCli(['cancel', reportA, '--yes'], { env: sb.env })).code).toBe(2);

    // A's file back, and the report edited to claim a row more.
    await writeFile(join(reportA, 'invocations.csv'), original);
    const report = JSON.parse(await readFile(join(reportA, 'report.json'), 'utf8')) as {
      files: { invocationsRows: number };
    };
    report.files.invocationsRows += 1;
    await writeFile(join(reportA, 'report.json'), JSON.stringify(report, null, 2));
    const edited = await runCli(['reconcile', reportA], { env: sb.env });
    expect(edited.code).toBe(2);
    expect(edited.stderr).toContain('is not sealed with these credentials');

    expect(sb.stats()).toMatchObject({ cancelled: 0, unscopedCancels: 0 });
    expect(statuses(sb, idsOf(reportB))).toEqual(Array(5).fill('active'));
  });

  it('does not take a run id to another run’s report folder', async () => {
    const sb = await sandbox();
    const a = await tempDir();
    const input = join(a, 'a.csv');
    await writeFile(input, `${HEADER}\n${rowsOf(2).join('\n')}\n`);
    await sendDir(sb, input, a, ['--run-id', 'campaign-a']);
    const b = await tempDir();
    const reportB = await sendDir(sb, input, b, ['--run-id', 'campaign-b']);
    // Run A's (unsealed) manifest edited to lead to B's report folder.
    const runs = join(a, 'state', 'runs');
    const [key] = await readdir(runs);
    const path = join(runs, key as string, 'manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8')) as { reports: string[] };
    manifest.reports = [reportB];
    await writeFile(path, JSON.stringify(manifest));
    const run = await runCli(['cancel', 'campaign-a', '--yes', '--state-dir', join(a, 'state')], {
      env: sb.env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('not of run campaign-a');
    expect(sb.stats().cancelled).toBe(0);
  });
});

describe('run state that atomic-bulk did not write is not believed', () => {
  it('refuses a planted manifest claiming a never-sent run was sent, and sends nothing', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'c.csv');
    await writeFile(input, `${HEADER}\n${rowsOf(3).join('\n')}\n`);
    // A real send of the same file under another run id gives a manifest's shape, which
    // is planted at the key of a run never sent — claiming every part uploaded.
    const donor = await tempDir();
    await sendDir(sb, input, donor, ['--run-id', 'donor']);
    const [donorKey] = await readdir(join(donor, 'state', 'runs'));
    const shape = JSON.parse(
      await readFile(join(donor, 'state', 'runs', donorKey as string, 'manifest.json'), 'utf8'),
    ) as Record<string, unknown>;
    await sb.settle();
    const invocationsBefore = sb.invocations().length;
    // The victim run's key: the same input under run id "victim".
    const { runKey } = await import('../../src/state/run-state.js');
    const key = runKey('victim', 'renewal-reminder', 'live', {
      apiOrigin: new URL(sb.url).origin,
      environmentId: sb.environmentId,
    });
    const planted = join(dir, 'state', 'runs', key);
    await mkdir(planted, { recursive: true });
    const { seal: _seal, ...unsealed } = shape;
    await writeFile(
      join(planted, 'manifest.json'),
      JSON.stringify({ ...unsealed, runId: 'victim' }, null, 2),
    );
    const run = await runCli(
      sendArgs(input, join(dir, 'state'), join(dir, 'report'), ['--run-id', 'victim']),
      {
        env: sb.env,
      },
    );
    expect(run.code).toBe(2);
    expectNoStack(run);
    expect(run.stderr).toContain('is not sealed with these credentials');
    expect(run.stdout).not.toContain('Success');
    await sb.settle();
    expect(sb.invocations().length).toBe(invocationsBefore);
  });

  it('re-makes a complete report from sealed state, and refuses an id file that was swapped', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const input = join(dir, 'c.csv');
    await writeFile(input, `${HEADER}\n${rowsOf(4).join('\n')}\n`);
    const first = await sendDir(sb, input, dir);
    // Following the advice for a lost report: the same command, another report folder.
    const again = await runCli(sendArgs(input, join(dir, 'state'), join(dir, 'again')), {
      env: sb.env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(dir, 'again', 'invocations.csv'), 'utf8')).toBe(
      await readFile(join(first, 'invocations.csv'), 'utf8'),
    );
    expect(readReport(join(dir, 'again')).rows).toMatchObject({ sent: 0, alreadySent: 4 });
    // Another campaign's ids put in place of the run's id file.
    const [key] = await readdir(join(dir, 'state', 'runs'));
    const idFile = join(dir, 'state', 'runs', key as string, 'parts', 'part-0001.ids.csv');
    await writeFile(idFile, '2,5d0f1c2e-0000-4000-8000-000000000001\n');
    const swapped = await runCli(sendArgs(input, join(dir, 'state'), join(dir, 'third')), {
      env: sb.env,
    });
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain('The id file of part 1');
  });
});

describe('every input entry is read or named', () => {
  it('sends the rows of a shard that is a link, and names a link to a folder', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const shards = join(dir, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'a.csv'), `${HEADER}\n${rowsOf(5, 1).join('\n')}\n`);
    await writeFile(join(dir, 'real.csv'), `${HEADER}\n${rowsOf(5, 6).join('\n')}\n`);
    await symlink(join(dir, 'real.csv'), join(shards, 'b.csv'));
    const report = await sendDir(sb, shards, dir);
    expect(readReport(report).rows).toMatchObject({ total: 10, sent: 10 });
    await symlink(dir, join(shards, 'c.csv'));
    const refused = await runCli(sendArgs(shards, join(dir, 'state2'), join(dir, 'r2')), {
      env: sb.env,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/c\.csv is a link to a folder/);
  });
});
