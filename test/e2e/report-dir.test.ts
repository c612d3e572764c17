/** Report folders are never shared: by runs started together, or by two processes at all. */
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readReport, RENEWAL_FLOW, runCli, SAMPLES, tempDir, validateArgs } from './cli.js';

describe('report folders', () => {
  it('gives 8 runs started at once in one folder 8 complete, separate reports', async () => {
    const dir = await tempDir();
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        runCli(
          [
            'validate',
            join(SAMPLES, k % 2 === 0 ? 'campaign.csv' : 'campaign-with-mistakes.csv'),
            '--flow-config',
            RENEWAL_FLOW,
          ],
          { cwd: dir },
        ),
      ),
    );
    expect(runs.map((r) => r.code).sort()).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const folders = readdirSync(dir).filter((f) => f.startsWith('atomic-bulk-report-'));
    expect(folders).toHaveLength(8);
    for (const [k, run] of runs.entries()) {
      const folder = join(dir, /Report: (.+)\/report\.md/.exec(run.stdout)?.[1] as string);
      const report = readReport(folder);
      const files = readdirSync(folder).sort();
      if (run.code === 0) {
        expect(files, `run ${k}`).toEqual(['report.html', 'report.json', 'report.md']);
      } else {
        expect(files, `run ${k}`).toEqual([
          'rejected.csv',
          'report.html',
          'report.json',
          'report.md',
        ]);
        expect(report.outcome).toBe('invalid');
      }
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      for (const f of files) expect(statSync(join(folder, f)).mode & 0o777).toBe(0o600);
    }
  });

  it('replaces an earlier report in an explicit --report-dir instead of mixing the two', async () => {
    const dir = await tempDir();
    const out = join(dir, 'latest');
    const bad = await runCli(validateArgs(join(SAMPLES, 'campaign-with-mistakes.csv'), out));
    expect(bad.code).toBe(1);
    expect(readdirSync(out)).toContain('rejected.csv');
    const good = await runCli(validateArgs(join(SAMPLES, 'campaign.csv'), out));
    expect(good.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    expect(readReport(out).outcome).toBe('success');
  });

  it('refuses an explicit --report-dir that another running atomic-bulk is writing', async () => {
    const dir = await tempDir();
    const out = join(dir, 'busy');
    mkdirSync(out);
    // The lock of a live process (this test runner's parent stands in for it).
    writeFileSync(join(out, '.atomic-bulk.lock'), String(process.ppid));
    const run = await runCli(validateArgs(join(SAMPLES, 'campaign.csv'), out));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/being written by another atomic-bulk \(pid \d+\)/);
    expect(readFileSync(join(out, '.atomic-bulk.lock'), 'utf8')).toBe(String(process.ppid));
  });

  it('leaves no lock behind when a run stops with an error after taking the folder', async () => {
    const dir = await tempDir();
    const input = join(dir, 'in.csv');
    writeFileSync(
      input,
      `target.attributes.atomic___id,payload.variables.firstName\nu1,${'x'.repeat(600)}\n`,
    );
    const out = join(dir, 'r');
    const run = await runCli(validateArgs(input, out, ['--max-part-bytes', '300']));
    expect(run.code).toBe(2);
    // No lock (a dot file) is left; the report says why the run stopped.
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(readReport(out)).toMatchObject({ outcome: 'failed', exitCode: 2 });
  });
});
