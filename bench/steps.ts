/**
 * The measured steps of the benchmark, each one process over the same generated file:
 * the peers a user would otherwise reach for (bare parses by csv-parse, papaparse and
 * udsv; Miller when installed; the naive csv-parse → csv-stringify splitter) and
 * atomic-bulk's commands.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from './measure.js';

export interface StepResult {
  seconds: number;
  maxRssMiB: number;
  note?: string;
}

export interface Measured extends StepResult {
  stdout: string;
  code: number | null;
}

export interface BenchContext {
  root: string;
  dir: string;
  file: string;
  rows: number;
  /** Exit code validate gives on this file. */
  validateCode: number;
  measure: (args: string[], env?: Record<string, string>) => Promise<Measured>;
}

export interface BenchStep {
  key: string;
  label: string;
  /** A peer (not atomic-bulk): measured at the main size only, and not held to memory targets. */
  peer: boolean;
  /** Runs only when this is true on the machine (Miller installed). */
  available?: () => boolean;
  run(ctx: BenchContext): Promise<StepResult>;
}

const cli = (ctx: BenchContext) => join(ctx.root, 'dist/cli/bin.js');
const flowConfig = (ctx: BenchContext) => join(ctx.root, 'samples/flows/renewal-reminder.json');
let outDirs = 0;

async function checked(ctx: BenchContext, args: string[], expectCode = 0): Promise<StepResult> {
  const r = await ctx.measure(args);
  if (r.code !== expectCode)
    throw new Error(`${args.slice(0, 3).join(' ')} exited with ${r.code}, not ${expectCode}`);
  return r;
}

function peer(name: string): BenchStep {
  return {
    key: name,
    label: `${name} bare parse`,
    peer: true,
    run: (ctx) => checked(ctx, [join(ctx.root, 'bench/dist/bench/peer-parse.js'), name, ctx.file]),
  };
}

/** The JavaScript parsers whose fastest bare parse is the yardstick for validate. */
export const JS_PEERS = ['csv-parse', 'papaparse', 'udsv'];

/** `atomic-bulk validate <input>` against the shape's flow, its report in a fresh folder. */
function validateStep(ctx: BenchContext, input: string): Promise<StepResult> {
  return checked(
    ctx,
    [
      cli(ctx),
      'validate',
      input,
      '--flow-config',
      flowConfig(ctx),
      '--report-dir',
      join(ctx.dir, `report-validate-${++outDirs}`),
      '--progress',
      'none',
    ],
    ctx.validateCode,
  );
}

let mlrChecked: boolean | null = null;

export const BENCH_STEPS: BenchStep[] = [
  ...JS_PEERS.map(peer),
  {
    key: 'miller',
    label: 'Miller mlr --icsv --ojson cat',
    peer: true,
    available: () =>
      (mlrChecked ??=
        spawnSync('mlr', ['--version']).status === 0 &&
        spawnSync('/usr/bin/time', ['true']).status === 0),
    run: (ctx) => {
      // Miller is not a Node program: its peak RSS comes from GNU time.
      const started = performance.now();
      const r = spawnSync(
        '/usr/bin/time',
        ['-f', '%M', 'sh', '-c', 'mlr --icsv --ojson cat "$0" > /dev/null', ctx.file],
        { encoding: 'utf8' },
      );
      const seconds = (performance.now() - started) / 1000;
      if (r.status !== 0) throw new Error(`mlr exited with ${r.status}`);
      const kib = Number(r.stderr.trim().split('\n').pop());
      return Promise.resolve({ seconds, maxRssMiB: Number.isFinite(kib) ? kib / 1024 : NaN });
    },
  },
  {
    key: 'read-limit',
    label: 'read limit: read + SHA-256 (Node)',
    peer: true,
    run: (ctx) =>
      checked(ctx, [join(ctx.root, 'bench/dist/bench/peer-parse.js'), 'read-sha256', ctx.file]),
  },
  {
    key: 'roundtrip',
    label: 'naive csv-parse → csv-stringify split',
    peer: true,
    run: (ctx) =>
      checked(ctx, [join(ctx.root, 'bench/dist/bench/peer-parse.js'), 'roundtrip', ctx.file]),
  },
  {
    key: 'validate',
    label: 'atomic-bulk validate',
    peer: false,
    run: (ctx) => validateStep(ctx, ctx.file),
  },
  {
    key: 'validate-gzip',
    label: 'atomic-bulk validate, gzip input',
    peer: false,
    run: async (ctx) => {
      // Compressed once per file, not measured (level 1: the ratio barely changes inflate speed).
      const gz = `${ctx.file}.gz`;
      if (!existsSync(gz))
        await pipeline(createReadStream(ctx.file), createGzip({ level: 1 }), createWriteStream(gz));
      return validateStep(ctx, gz);
    },
  },
  {
    key: 'validate-shards',
    label: 'atomic-bulk validate, gzip shards (a directory)',
    peer: false,
    run: async (ctx) => {
      // A warehouse-style export of the same rows, made once per file, not measured: cut
      // into parts by atomic-bulk split (each with the header), each gzipped at level 1.
      const shards = `${ctx.file}.shards`;
      if (!existsSync(shards)) {
        const made = spawnSync(
          process.execPath,
          [
            cli(ctx),
            'split',
            ctx.file,
            '--out-dir',
            `${shards}.tmp`,
            '--report-dir',
            join(ctx.dir, `report-shards-${++outDirs}`),
            '--progress',
            'none',
          ],
          { stdio: 'ignore' },
        );
        if (made.status !== 0) throw new Error(`split for shards exited with ${made.status}`);
        await mkdir(shards);
        for (const name of (await readdir(`${shards}.tmp`)).filter((n) =>
          /^part-\d+\.csv$/.test(n),
        )) {
          await pipeline(
            createReadStream(join(`${shards}.tmp`, name)),
            createGzip({ level: 1 }),
            createWriteStream(join(shards, `${name}.gz`)),
          );
        }
        await rm(`${shards}.tmp`, { recursive: true, force: true });
      }
      return validateStep(ctx, shards);
    },
  },
  {
    key: 'split',
    label: 'atomic-bulk split',
    peer: false,
    run: async (ctx) => {
      const out = join(ctx.dir, `parts-${++outDirs}`);
      const r = await checked(ctx, [
        cli(ctx),
        'split',
        ctx.file,
        '--out-dir',
        out,
        '--report-dir',
        join(ctx.dir, `report-split-${outDirs}`),
        '--progress',
        'none',
      ]);
      await rm(out, { recursive: true, force: true });
      return r;
    },
  },
  {
    key: 'dry-run',
    label: 'atomic-bulk send --dry-run',
    peer: false,
    run: (ctx) =>
      checked(
        ctx,
        [...sendArgs(ctx, `dry-${++outDirs}`), '--dry-run', '--flow-config', flowConfig(ctx)],
        ctx.validateCode,
      ),
  },
  {
    key: 'send-sink',
    label: 'atomic-bulk send → minimal sink',
    peer: false,
    run: (ctx) => sendTo(ctx, 'sink'),
  },
  {
    key: 'send',
    label: 'atomic-bulk send → sandbox (low priority)',
    peer: false,
    run: (ctx) => sendTo(ctx, 'sandbox'),
  },
];

/** Sends to a server run as its own process (the sandbox at the lowest CPU priority, or the sink). */
async function sendTo(ctx: BenchContext, target: 'sink' | 'sandbox'): Promise<StepResult> {
  if (ctx.validateCode !== 0) return { seconds: NaN, maxRssMiB: NaN, note: 'nothing to send' };
  const server = await startServer(ctx, target);
  try {
    const cpuBefore = server.cpuSeconds();
    const r = await ctx.measure(
      [...sendArgs(ctx, `send-${++outDirs}`), '--flow-config', flowConfig(ctx)],
      server.env,
    );
    if (r.code !== 0) throw new Error(`send to the ${target} exited with ${r.code}`);
    const cpu = server.cpuSeconds() - cpuBefore;
    return { ...r, note: `${target}: ${cpu.toFixed(1)} CPU-s` };
  } finally {
    await server.stop();
  }
}

function sendArgs(ctx: BenchContext, name: string): string[] {
  return [
    cli(ctx),
    'send',
    ctx.file,
    '--flow',
    'renewal-reminder',
    '--state-dir',
    join(ctx.dir, `state-${name}`),
    '--report-dir',
    join(ctx.dir, `report-${name}`),
    '--progress',
    'none',
  ];
}

/** Starts the sandbox (as a user would, `atomic-bulk sandbox`) or the sink; reads its settings. */
async function startServer(
  ctx: BenchContext,
  target: 'sink' | 'sandbox',
): Promise<{ env: Record<string, string>; cpuSeconds: () => number; stop: () => Promise<void> }> {
  const args =
    target === 'sink'
      ? [join(ctx.root, 'bench/dist/bench/sink.js')]
      : [
          cli(ctx),
          'sandbox',
          '--port',
          '0',
          '--no-store-payloads',
          '--max-running-tasks',
          '0',
          // Atomic processes uploads on its own machines: here processing waits until the
          // send is over, so it does not take the send's CPU on a 2-core machine.
          '--process-quiet-ms',
          '600000',
          '--direct-uploads',
        ];
  const server = await startServerProcess(args, target);
  const child = server.child;
  if (target === 'sandbox' && child.pid !== undefined) setPriority(child.pid, 19);
  return {
    env: server.env,
    // utime + stime from /proc (Linux); 0 elsewhere.
    cpuSeconds: () => {
      try {
        const fields =
          readFileSync(`/proc/${child.pid ?? 0}/stat`, 'utf8')
            .split(') ')[1]
            ?.split(' ') ?? [];
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        return 0;
      }
    },
    stop: () => server.stop(),
  };
}
