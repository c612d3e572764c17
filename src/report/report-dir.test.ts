import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReportDir } from './report-dir.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'report-dir-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ReportDir', () => {
  it('names a default folder by the UTC time and a random part, never shared', () => {
    const at = new Date('2026-12-07T10:11:12.345Z');
    const a = ReportDir.defaultLocation(at);
    expect(a).toMatch(/^atomic-bulk-report-20261207T101112Z-[0-9a-f]{6}$/);
    expect(ReportDir.defaultLocation(at)).not.toBe(a);
  });

  it('clears an earlier report from a reused folder, but nothing else in it', async () => {
    const folder = join(root, 'reports');
    await mkdir(folder);
    await writeFile(join(folder, 'report.json'), '{"old":true}');
    await writeFile(join(folder, 'rejected.csv'), 'old');
    await writeFile(join(folder, 'notes.txt'), 'mine');
    const dir = await ReportDir.open(folder, new Date());
    const left = (await readdir(folder)).filter((f) => !f.startsWith('.'));
    expect(left.sort()).toEqual(['notes.txt']);
    await dir.publish();
  });

  it('refuses a folder another live atomic-bulk is writing', async () => {
    const folder = join(root, 'reports');
    await mkdir(folder);
    const first = await ReportDir.open(folder, new Date());
    // The lock of another process that is alive (this test's parent).
    const lock = (await readdir(folder)).find((f) => f.startsWith('.') && f.includes('lock'));
    expect(lock).toBeDefined();
    await writeFile(join(folder, lock as string), String(process.ppid));
    await expect(ReportDir.open(folder, new Date())).rejects.toMatchObject({ code: 'OUTPUT' });
    await first.publish();
  });

  it('puts a streamed file in place only when it is committed; an abandoned one leaves nothing', async () => {
    const dir = await ReportDir.open(join(root, 'r'), new Date());
    // A folder it makes is private; a folder the user already had keeps its mode, and
    // every file written into it is private.
    expect((await stat(dir.localDir)).mode & 0o777).toBe(0o700);
    const out = dir.stream('rejected.csv');
    out.end('a,b\n');
    await new Promise<void>((r) => out.once('close', () => r()));
    expect(await readdir(dir.localDir)).not.toContain('rejected.csv');
    await dir.commit('rejected.csv');
    expect(await readFile(join(dir.localDir, 'rejected.csv'), 'utf8')).toBe('a,b\n');
    expect((await stat(join(dir.localDir, 'rejected.csv'))).mode & 0o777).toBe(0o600);
    const half = dir.stream('invocations.csv');
    half.end('line,flowInvocationId\n');
    await new Promise<void>((r) => half.once('close', () => r()));
    await dir.abandon('invocations.csv');
    const files = await readdir(dir.localDir);
    expect(files.filter((f) => f.includes('invocations'))).toEqual([]);
    await dir.publish();
  });
});
