/**
 * Faults after the upload (issue 22): a report folder on a disk that fills up while the
 * report is written. Every row was sent, so the send exits 5 — not 2, "usage" — leaves no
 * truncated invocations.csv, and says how to re-make the report; following that advice
 * literally writes the complete report and uploads nothing again. A read-only folder is
 * named as such. Needs root to mount a small tmpfs; skipped elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { expectNoStack, readReport, runCli, sendArgs, tempDir } from './cli.js';

/** True when a tmpfs can really be mounted here (root, and a kernel that allows it). */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const at = mkdtempSync(join(tmpdir(), 'atomic-bulk-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4096', 'tmpfs', at], { stdio: 'ignore' });
    execFileSync('umount', [at], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(at, { recursive: true, force: true });
  }
}

async function smallDisk(bytes: number, readOnly = false): Promise<string> {
  const at = join(await tempDir(), 'disk');
  await mkdir(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', at]);
  onTestFinished(() => {
    execFileSync('umount', ['-l', at]);
  });
  if (readOnly) execFileSync('mount', ['-o', 'remount,ro', at]);
  return at;
}

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName';

describe.skipIf(!canMount())('a report folder that cannot be written', () => {
  it('exits 5 when the disk fills after the upload, and the advice re-makes the report', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    const input = join(dir, 'c.csv');
    const rows = Array.from(
      { length: 3000 },
      (_, k) => `customer-${String(k % 50).padStart(2, '0')},N${k}`,
    );
    await writeFile(input, `${HEADER}\n${rows.join('\n')}\n`);
    const disk = await smallDisk(64 * 1024);
    const report = join(disk, 'report');
    const sent = await runCli(sendArgs(input, join(dir, 'state'), report), { env: sb.env });
    expect(sent.code, sent.stderr).toBe(5);
    expectNoStack(sent);
    expect(sent.stderr).toContain('3000 rows were sent, but the report could not be written');
    expect(sent.stderr).toContain('disk is full');
    // Nothing truncated is left to be mistaken for the run's list of ids.
    expect(existsSync(join(report, 'invocations.csv'))).toBe(false);
    expect(readdirSync(report).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await sb.settle();
    expect(sb.invocations()).toHaveLength(3000);

    // The advice: the same command, a writable --report-dir.
    const again = await runCli(sendArgs(input, join(dir, 'state'), join(dir, 'report')), {
      env: sb.env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(readReport(join(dir, 'report')).rows).toMatchObject({ sent: 0, alreadySent: 3000 });
    const ids = (await readFile(join(dir, 'report', 'invocations.csv'), 'utf8')).trim().split('\n');
    expect(ids).toHaveLength(3001);
    await sb.settle();
    expect(sb.invocations()).toHaveLength(3000);
  });

  it('names a read-only report folder as such, before anything is sent', async () => {
    const sb = await createSandbox({ processQuietMs: 50 });
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    const input = join(dir, 'c.csv');
    await writeFile(input, `${HEADER}\ncustomer-01,Ann\n`);
    const disk = await smallDisk(64 * 1024, true);
    const run = await runCli(sendArgs(input, join(dir, 'state'), join(disk, 'report')), {
      env: sb.env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/read-only file system|not writable/);
    expect(run.stderr).not.toContain('ENOENT');
    expect(sb.invocations()).toHaveLength(0);
  });
});
