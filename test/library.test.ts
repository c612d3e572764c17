import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
// The package entry point, as a user imports it (resolved through package.json "exports").
import {
  AtomicClient,
  createSandbox,
  ISSUE_CODES,
  loadFlowFile,
  send,
  split,
  validate,
  type Report,
} from 'atomic-bulk';
import { readReport, SAMPLES, tempDir } from './e2e/cli.js';

describe('the library API, imported from the package entry point', () => {
  it('enforces the limits the CLI enforces: the 32 MB cap and 1–5 parts in flight', async () => {
    const flow = await loadFlowFile(join(SAMPLES, 'flows/renewal-reminder.json'));
    const input = join(SAMPLES, 'campaign.csv');
    const usage = { name: 'AtomicBulkError', code: 'USAGE' };
    await expect(
      send({
        input,
        flow,
        flowConfigId: 'renewal-reminder',
        api: null,
        dryRun: true,
        maxPartBytes: 1e8,
      }),
    ).rejects.toMatchObject({
      ...usage,
      message: expect.stringMatching(
        /maxPartBytes must be a whole number from 1 to 32,000,000/,
      ) as unknown,
    });
    await expect(
      send({
        input,
        flow,
        flowConfigId: 'renewal-reminder',
        api: null,
        dryRun: true,
        concurrency: 9,
      }),
    ).rejects.toMatchObject(usage);
    await expect(validate({ input, flow, maxPartBytes: 0 })).rejects.toMatchObject(usage);
    await expect(
      split({ input, outDir: await tempDir(), maxPartBytes: 1.5 }),
    ).rejects.toMatchObject(usage);
  });

  it('validates a file against a flow config', async () => {
    const dir = await tempDir();
    const flow = await loadFlowFile(join(SAMPLES, 'flows/renewal-reminder.json'));
    const { report, reportDir } = await validate({
      input: join(SAMPLES, 'campaign-with-mistakes.csv'),
      flow,
      reportDir: join(dir, 'r'),
    });
    expect(report).toMatchObject({ command: 'validate', outcome: 'invalid', exitCode: 1 });
    expect(report.issues.every((i) => i.code in ISSUE_CODES)).toBe(true);
    expect(readReport(reportDir)).toEqual(report);
  });

  it('sends a campaign to the sandbox and reads back the invocations', async () => {
    const sandbox = await createSandbox();
    onTestFinished(() => sandbox.stop());
    const dir = await tempDir();
    const api = new AtomicClient(sandbox.connection);
    const { report }: { report: Report } = await send({
      input: join(SAMPLES, 'campaign.csv'),
      flowConfigId: 'renewal-reminder',
      api,
      maxPartBytes: 10_000,
      stateDir: join(dir, 'state'),
      reportDir: join(dir, 'report'),
    });
    expect(report).toMatchObject({
      outcome: 'success',
      exitCode: 0,
      rows: { total: 300, sent: 300 },
    });
    expect(report.parts.length).toBeGreaterThan(1);
    await sandbox.settle();
    expect(sandbox.invocations()).toHaveLength(300);
  });

  it('splits any CSV without a flow', async () => {
    const dir = await tempDir();
    const { parts, report } = await split({
      input: join(SAMPLES, 'campaign.csv'),
      outDir: join(dir, 'parts'),
      maxPartBytes: 8000,
      reportDir: join(dir, 'r'),
    });
    expect(report.outcome).toBe('success');
    expect(parts.reduce((n, p) => n + p.rows, 0)).toBe(300);
  });
});
