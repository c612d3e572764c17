/**
 * `npm run bench:telemetry`: what OpenTelemetry costs. The install size of the optional
 * @opentelemetry packages (the default install carries none), and the wall time and peak
 * RSS of `validate samples/campaign.csv` — start-up dominated — without OTEL_*, and with
 * OTEL_* pointing at an OTLP receiver on 127.0.0.1 (http/protobuf), each run 10 times,
 * alternating; medians printed.
 */
import { createServer } from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureNode, type ProcessFigures } from './measure.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const RUNS = 10;

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += await sizeOf(join(path, name));
  return total;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const otelBytes = await sizeOf(join(ROOT, 'node_modules/@opentelemetry')).catch(() => 0);
  console.log(
    `@opentelemetry packages installed: ${(otelBytes / 2 ** 20).toFixed(1)} MiB (optional; not in the default install)`,
  );
  let requests = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-bench-otel-'));
  const args = (n: number) => [
    BIN,
    'validate',
    join(ROOT, 'samples/campaign.csv'),
    '--flow-config',
    join(ROOT, 'samples/flows/renewal-reminder.json'),
    '--report-dir',
    join(dir, `r${n}`),
  ];
  const without: ProcessFigures[] = [];
  const withOtel: ProcessFigures[] = [];
  try {
    for (let k = 0; k < RUNS; k++) {
      without.push(await measureNode(ROOT, args(2 * k), {}, true));
      withOtel.push(
        await measureNode(
          ROOT,
          args(2 * k + 1),
          { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
          true,
        ),
      );
    }
  } finally {
    receiver.close();
    await rm(dir, { recursive: true, force: true });
  }
  const show = (label: string, runs: ProcessFigures[]) =>
    console.log(
      `${label.padEnd(34)}${(median(runs.map((r) => r.seconds)) * 1000).toFixed(0).padStart(6)} ms${median(
        runs.map((r) => r.maxRssMiB),
      )
        .toFixed(0)
        .padStart(6)} MiB  exit ${runs.map((r) => r.code).join(',')}`,
    );
  console.log(`validate samples/campaign.csv, median of ${RUNS}:`);
  show('without OTEL_*', without);
  show('with OTEL_* (http/protobuf)', withOtel);
  console.log(
    `OTLP requests received: ${requests} (expected ${RUNS * 2}: traces and metrics per run)`,
  );
  if (requests !== RUNS * 2 || [...without, ...withOtel].some((r) => r.code !== 0))
    process.exitCode = 1;
}

await main();
