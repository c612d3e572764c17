/**
 * OpenTelemetry (SPEC 9, issue 26): a send through the sandbox with OTEL_* pointing at a
 * real OTLP/HTTP receiver on 127.0.0.1 sends one trace — the command, its phases and one
 * span per part, every one carrying the run id — and the metrics, as http/json and as
 * http/protobuf, each decoded here. Invalid input and an interruption end the trace with
 * their status; a collector that is down costs a line on stderr, never the exit code;
 * without OTEL_* no OpenTelemetry module is even resolved.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { otlpReceiver } from '../otlp-receiver.js';
import { BIN, readReport, ROOT, runCli, sendArgs, tempDir } from './cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox({ processQuietMs: 50, ...options });
  onTestFinished(() => sb.stop());
  return sb;
}

async function campaign(rows: number, bad = false): Promise<string> {
  const path = join(await tempDir(), 'campaign.csv');
  const lines = Array.from(
    { length: rows },
    (_, k) => `member-${k},Ann,${bad && k === 3 ? 'lots' : k}`,
  );
  await writeFile(path, `${HEADER}\n${lines.join('\n')}\n`);
  return path;
}

function otel(url: string, protocol: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: 'nightly-renewals',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=rehearsal',
  };
}

const WATCH = `--import=${join(ROOT, 'test/fixtures/watch-imports.mjs')}`;

describe('OpenTelemetry', () => {
  for (const protocol of ['http/json', 'http/protobuf']) {
    it(`sends the trace and the metrics of a send (${protocol})`, async () => {
      const sb = await sandbox();
      const { url, received } = await otlpReceiver();
      const dir = await tempDir();
      const report = join(dir, 'report');
      const run = await runCli(
        sendArgs(await campaign(600), join(dir, 'state'), report, ['--max-part-bytes', '4000']),
        { env: { ...sb.env, ...otel(url, protocol) } },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toContain('telemetry:');
      const type = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
      expect(received.contentTypes).toEqual(
        expect.arrayContaining([`/v1/traces ${type}`, `/v1/metrics ${type}`]),
      );
      const r = readReport(report);
      expect(received.resource).toMatchObject({
        'service.name': 'nightly-renewals',
        'deployment.environment': 'rehearsal',
      });
      const root = received.spans.find((s) => s.name === 'atomic-bulk send')!;
      expect(root.attributes).toMatchObject({
        'atomic_bulk.run_id': r.runId,
        'atomic_bulk.status': 'success',
        'atomic_bulk.exit_code': 0,
        'atomic_bulk.rows.sent': 600,
        'atomic_bulk.flow': 'renewal-reminder',
      });
      expect(root.error).toBe(false);
      const phases = received.spans.filter((s) => s.name.startsWith('phase '));
      expect(phases.map((s) => s.name)).toEqual(
        expect.arrayContaining(['phase validate', 'phase upload']),
      );
      const upload = phases.find((s) => s.name === 'phase upload')!;
      const parts = received.spans.filter((s) => s.name.startsWith('part '));
      expect(parts).toHaveLength(r.parts.length);
      expect(r.parts.length).toBeGreaterThan(3);
      for (const part of parts) {
        expect(part.parentSpanId).toBe(upload.spanId);
        expect(part.attributes['atomic_bulk.part.status']).toBe('uploaded');
        expect(part.end).toBeGreaterThanOrEqual(part.start);
      }
      expect(parts.reduce((n, p) => n + Number(p.attributes['atomic_bulk.part.rows']), 0)).toBe(
        600,
      );
      for (const span of received.spans) {
        expect(span.traceId).toBe(root.traceId);
        expect(span.attributes['atomic_bulk.run_id']).toBe(r.runId);
      }
      const value = (name: string) => received.metrics[name]?.[0]?.value;
      expect(value('atomic_bulk.rows.validated')).toBe(600);
      expect(value('atomic_bulk.rows.invalid')).toBe(0);
      expect(value('atomic_bulk.rows.sent')).toBe(600);
      expect(value('atomic_bulk.rows.skipped')).toBe(0);
      expect(value('atomic_bulk.bytes.sent')).toBe(r.parts.reduce((n, p) => n + p.bytes, 0));
      expect(value('atomic_bulk.command.duration')).toBe(1);
      expect(received.metrics['atomic_bulk.rows.sent']?.[0]?.attributes['atomic_bulk.run_id']).toBe(
        r.runId,
      );
    });
  }

  it('ends the trace of invalid input and of an interruption with their status', async () => {
    const sb = await sandbox({ faults: { latencyMs: 400 } });
    const { url, received } = await otlpReceiver();
    const dir = await tempDir();
    const invalid = await runCli(
      sendArgs(await campaign(20, true), join(dir, 'state'), join(dir, 'r1')),
      { env: { ...sb.env, ...otel(url, 'http/json') } },
    );
    expect(invalid.code).toBe(1);
    const first = received.spans.find((s) => s.name === 'atomic-bulk send')!;
    expect(first.attributes['atomic_bulk.status']).toBe('invalid');
    expect(first.error).toBe(true);
    expect(received.metrics['atomic_bulk.rows.invalid']?.[0]?.value).toBe(1);

    received.spans.length = 0;
    const child = spawn(
      process.execPath,
      [
        BIN,
        ...sendArgs(await campaign(600), join(dir, 'state2'), join(dir, 'r2'), [
          '--max-part-bytes',
          '2000',
        ]),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...sb.env, ...otel(url, 'http/protobuf') },
        stdio: 'ignore',
      },
    );
    await new Promise((r) => setTimeout(r, 2500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(130);
    const root = received.spans.find((s) => s.name === 'atomic-bulk send')!;
    expect(root.attributes['atomic_bulk.status']).toBe('interrupted');
    expect(root.attributes['atomic_bulk.run_id']).toBe(readReport(join(dir, 'r2')).runId);
  });

  it('keeps the exit code when the collector is down', async () => {
    const sb = await sandbox();
    const dir = await tempDir();
    const started = Date.now();
    const run = await runCli(
      sendArgs(await campaign(10), join(dir, 'state'), join(dir, 'report')),
      {
        env: { ...sb.env, ...otel('http://127.0.0.1:9', 'http/protobuf') },
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/telemetry: /);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('resolves no OpenTelemetry module without OTEL_*, and does with it', async () => {
    const sb = await sandbox();
    const { url } = await otlpReceiver();
    const dir = await tempDir();
    const without = join(dir, 'without.txt');
    const withIt = join(dir, 'with.txt');
    await writeFile(without, '');
    await writeFile(withIt, '');
    const plain = await runCli(sendArgs(await campaign(10), join(dir, 's1'), join(dir, 'r1')), {
      env: { ...sb.env, NODE_OPTIONS: WATCH, WATCH_IMPORTS_FILE: without },
    });
    expect(plain.code, plain.stderr).toBe(0);
    expect(readFileSync(without, 'utf8')).toBe('');
    const traced = await runCli(sendArgs(await campaign(10), join(dir, 's2'), join(dir, 'r2')), {
      env: {
        ...sb.env,
        ...otel(url, 'http/json'),
        NODE_OPTIONS: WATCH,
        WATCH_IMPORTS_FILE: withIt,
      },
    });
    expect(traced.code, traced.stderr).toBe(0);
    expect(readFileSync(withIt, 'utf8')).toContain('@opentelemetry/sdk-trace-base');
  });
});
