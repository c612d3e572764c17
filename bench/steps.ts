/** The measured steps of the benchmark, each one process over the same generated file. */
import { join } from 'node:path';

export interface StepResult {
  seconds: number;
  maxRssMiB: number;
  note?: string;
}

export interface BenchContext {
  root: string;
  dir: string;
  file: string;
  rows: number;
  measure: (
    args: string[],
    env?: Record<string, string>,
  ) => Promise<{ seconds: number; maxRssMiB: number; stdout: string; code: number | null }>;
}

export interface BenchStep {
  key: string;
  label: string;
  run(ctx: BenchContext): Promise<StepResult>;
}

function cli(ctx: BenchContext): string {
  return join(ctx.root, 'dist/cli/bin.js');
}

async function checked(ctx: BenchContext, args: string[], expectCode = 0): Promise<StepResult> {
  const r = await ctx.measure(args);
  if (r.code !== expectCode) throw new Error(`${args.join(' ')} exited with ${r.code}`);
  return r;
}

let outDirs = 0;

export const BENCH_STEPS: BenchStep[] = [
  {
    key: 'baseline',
    label: 'bare csv-parse → arrays (baseline)',
    run: (ctx) =>
      checked(ctx, [join(ctx.root, 'bench/dist/bench/baseline-csv-parse.js'), ctx.file]),
  },
  {
    key: 'validate',
    label: 'atomic-bulk validate',
    run: (ctx) =>
      checked(ctx, [
        cli(ctx),
        'validate',
        ctx.file,
        '--flow-config',
        join(ctx.root, 'samples/flows/renewal-reminder.json'),
        '--report-dir',
        join(ctx.dir, 'report-validate'),
        '--progress',
        'none',
      ]),
  },
  {
    key: 'split',
    label: 'atomic-bulk split (parts written to disk)',
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
      const { rm } = await import('node:fs/promises');
      await rm(out, { recursive: true, force: true });
      return r;
    },
  },
  {
    key: 'roundtrip',
    label: 'naive csv-parse → csv-stringify round trip',
    run: (ctx) =>
      checked(ctx, [
        join(ctx.root, 'bench/dist/bench/baseline-csv-parse.js'),
        ctx.file,
        'roundtrip',
      ]),
  },
  {
    key: 'dry-run',
    label: 'atomic-bulk send --dry-run',
    run: (ctx) =>
      checked(ctx, [
        ...sendArgs(ctx, `dry-${++outDirs}`),
        '--dry-run',
        '--flow-config',
        join(ctx.root, 'samples/flows/renewal-reminder.json'),
      ]),
  },
  {
    key: 'send',
    label: 'atomic-bulk send to the sandbox',
    run: (ctx) => sendToSandbox(ctx, 'low'),
  },
  {
    key: 'send-shared',
    label: '  … sandbox at equal CPU priority',
    run: (ctx) => sendToSandbox(ctx, 'equal'),
  },
];

/**
 * Sends to the sandbox running as its own process, as a user would run it. Atomic and S3
 * process uploads on their own machines; here the stand-in shares the bench machine's
 * cores, so the main figure runs it at the lowest CPU priority (it gets the cycles the
 * tool leaves idle), and 'send-shared' shows the same send with both at equal priority.
 */
async function sendToSandbox(ctx: BenchContext, priority: 'low' | 'equal'): Promise<StepResult> {
  const sandbox = await startSandbox(ctx, priority);
  try {
    const cpuBefore = sandbox.cpuSeconds();
    const r = await ctx.measure([...sendArgs(ctx, `send-${++outDirs}`)], sandbox.env);
    if (r.code !== 0) throw new Error(`send exited with ${r.code}`);
    const cpu = sandbox.cpuSeconds() - cpuBefore;
    const stats = await sandbox.stats();
    return { ...r, note: `sandbox: ${stats.tasks} parts received, ${cpu.toFixed(1)} CPU-s` };
  } finally {
    await sandbox.stop();
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

/** Runs `atomic-bulk sandbox` as its own process, as a user would, and reads its settings. */
async function startSandbox(
  ctx: BenchContext,
  priority: 'low' | 'equal',
): Promise<{
  env: Record<string, string>;
  stats: () => Promise<{ tasks: number; invocations: number }>;
  cpuSeconds: () => number;
  stop: () => Promise<void>;
}> {
  const { spawn } = await import('node:child_process');
  const { setPriority } = await import('node:os');
  const { readFileSync } = await import('node:fs');
  // Processing waits until the send is over: Atomic processes uploads on its own machines,
  // and on a 2-core bench machine the sandbox's processing would otherwise take the send's CPU.
  // A secret in the caller's environment would become the sandbox's and not be printed.
  const { ATOMIC_CLIENT_SECRET: _ignored, ...env0 } = process.env;
  const child = spawn(
    process.execPath,
    [
      cli(ctx),
      'sandbox',
      '--port',
      '0',
      '--no-store-payloads',
      '--max-running-tasks',
      '0',
      '--process-quiet-ms',
      '60000',
      '--direct-uploads',
    ],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: env0,
    },
  );
  if (priority === 'low' && child.pid !== undefined) setPriority(child.pid, 19);
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1] as string] = m[2] as string;
      if (env.ATOMIC_CLIENT_SECRET !== undefined) resolve();
    });
    child.on('exit', () => reject(new Error('the sandbox exited early')));
  });
  return {
    env,
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
    stats: async () =>
      (
        (await (await fetch(`${env.ATOMIC_BASE_URL as string}/sandbox/stats`)).json()) as {
          data: { tasks: number; invocations: number };
        }
      ).data,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}
