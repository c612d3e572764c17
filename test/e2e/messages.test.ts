/** Messages that point at the real cause (issue codes aside): flags, ports, flows, budgets. */
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import {
  BIN,
  expectNoStack,
  readReport,
  RENEWAL_FLOW,
  runCli,
  SAMPLES,
  tempDir,
  validateArgs,
} from './cli.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe('messages', () => {
  it('suggests the flag that was meant', async () => {
    const run = await runCli(['send', join(SAMPLES, 'campaign.csv'), '--flow', 'x', '--dryrun']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Unknown option: --dryrun (did you mean --dry-run?)');
    expectNoStack(run);
  });

  it('says in plain words that the input is missing', async () => {
    const run = await runCli(['validate', '--flow-config', RENEWAL_FLOW]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Name the input file/);
  });

  it('says a sandbox port is in use, with what to do', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    onTestFinished(() => void blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const run = await runCli(['sandbox', '--port', String(port)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`port ${port} is in use; use --port N or --port 0.`);
    expectNoStack(run);
  });

  it('tells a wrong environment from a wrong flow, and suggests the flow meant', async () => {
    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const flow = await runCli(['template', '--flow', 'renewal-reminde'], { env: sb.env });
    expect(flow.code).toBe(3);
    expect(flow.stderr).toContain(
      `Flow renewal-reminde was not found in environment ${sb.environmentId} (HTTP 404).`,
    );
    expect(flow.stderr).toContain('Did you mean --flow renewal-reminder?');
    const env = await runCli(['template', '--flow', 'renewal-reminder'], {
      env: { ...sb.env, ATOMIC_ENVIRONMENT_ID: 'sandbx' },
    });
    expect(env.code).toBe(3);
    expect(env.stderr).toContain('Environment sandbx was not found');
    expect(env.stderr).not.toContain('Flow renewal-reminder was not found');
  });

  it('names every problem of a failed validation on stderr, with line, column and code', async () => {
    const dir = await tempDir();
    const run = await runCli(
      validateArgs(join(SAMPLES, 'campaign-with-mistakes.csv'), join(dir, 'r')),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'line 1 (payload.cardOptions.expire): unknown-card-option: "expire" is not a card option.',
    );
    expect(run.stderr).toMatch(/line 4 \(payload\.variables\.amount\): invalid-number: /);
    expect(run.stderr).toMatch(/Issues by code: .*invalid-date 2/);
  });
});

describe('the shipped samples', () => {
  it.each(['renewal-reminder', 'onboarding-checklist'])(
    'the template of %s validates against its own flow with no warning',
    async (flow) => {
      const dir = await tempDir();
      const config = join(SAMPLES, 'flows', `${flow}.json`);
      const template = await runCli(['template', '--flow-config', config]);
      expect(template.code).toBe(0);
      const file = join(dir, 't.csv');
      writeFileSync(file, template.stdout);
      const run = await runCli([
        'validate',
        file,
        '--flow-config',
        config,
        '--report-dir',
        join(dir, 'r'),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(readReport(join(dir, 'r')).issueCounts).toMatchObject({ errors: 0, warnings: 0 });
    },
  );
});

describe('a reader that stops early', () => {
  it('does not turn a closed pipe into a crash: the exit code stays the run’s', async () => {
    const dir = await tempDir();
    const { spawnSync } = await import('node:child_process');
    // Thousands of listed issues: a report far larger than the pipe's buffer.
    const input = join(dir, 'bad.csv');
    const rows = Array.from({ length: 3000 }, (_, i) => `u${i},Name,not-a-number`);
    writeFileSync(
      input,
      `target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount\n${rows.join('\n')}\n`,
    );
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${BIN}" validate "$1" --flow-config "$2" --report-dir "$3" --max-issues 5000 --json | head -c 1 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`,
        'sh',
        input,
        RENEWAL_FLOW,
        join(dir, 'r'),
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout.trim()).toBe('exit=1');
    expect(r.stderr).not.toMatch(/EPIPE|at .+\(/);
  });
});
