/**
 * `atomic-bulk demo` runs send with every one of send's flags at its default. It once
 * broke when send gained a flag the demo did not know; it now takes the defaults from
 * send's own option parser, and this test runs it from a folder without samples/.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, readReport, runCli, tempDir } from './cli.js';

describe('demo', () => {
  it('sends the bundled campaign to the embedded sandbox, from any folder', async () => {
    const dir = await tempDir();
    const run = await runCli(['demo', '--report-dir', join(dir, 'r')], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expectNoStack(run);
    expect(run.stdout).toContain('Success: 300 rows sent');
    const report = readReport(join(dir, 'r'));
    expect(report.rows).toMatchObject({ total: 300, valid: 300, sent: 300 });
  });
});
