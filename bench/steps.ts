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
  measure: (args: string[], env?: Record<string, string>) => Promise<{ seconds: number; maxRssMiB: number; stdout: string; code: number | null }>;
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
    run: (ctx) => checked(ctx, [join(ctx.root, 'bench/dist/bench/baseline-csv-parse.js'), ctx.file]),
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
      const r = await checked(ctx, [cli(ctx), 'split', ctx.file, '--out-dir', out, '--report-dir', join(ctx.dir, `report-split-${outDirs}`), '--progress', 'none']);
      const { rm } = await import('node:fs/promises');
      await rm(out, { recursive: true, force: true });
      return r;
    },
  },
  {
    key: 'roundtrip',
    label: 'naive csv-parse → csv-stringify round trip',
    run: (ctx) => checked(ctx, [join(ctx.root, 'bench/dist/bench/baseline-csv-parse.js'), ctx.file, 'roundtrip']),
  },
];
