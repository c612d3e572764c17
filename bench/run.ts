/**
 * `npm run bench`: generates campaign files at run time and measures, in the same run,
 * the baseline (bare csv-parse) and atomic-bulk's commands as separate processes, with
 * their throughput and peak RSS. Options:
 *   --size-mb N      main file size (default 200)
 *   --flat-mb A,B    sizes for the memory-flatness check (default 100,1024; "none" skips)
 *   --runs N         runs per measurement, median reported (default 3; this VM is noisy)
 *   --only a,b       run only these steps (baseline, validate, split, roundtrip, dry-run,
 *                    send, send-shared)
 *   --dir PATH       where to put generated files (default: OS temp dir)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateCampaign } from './generate-campaign.js';
import { BENCH_STEPS, type BenchContext, type StepResult } from './steps.js';

// Compiled to bench/dist/bench/run.js.
const ROOT = resolve(import.meta.dirname, '../../..');

interface Options {
  sizeMb: number;
  flatMb: number[];
  runs: number;
  only: Set<string> | null;
  dir: string | null;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const flat = get('flat-mb') ?? '100,1024';
  return {
    sizeMb: Number(get('size-mb') ?? 200),
    flatMb: flat === 'none' ? [] : flat.split(',').map(Number),
    runs: Number(get('runs') ?? 3),
    only: get('only') === undefined ? null : new Set((get('only') as string).split(',')),
    dir: get('dir') ?? null,
  };
}

/** Runs a command as its own process; returns wall time and peak RSS. */
export async function measure(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ seconds: number; maxRssMiB: number; stdout: string; code: number | null }> {
  const rssFile = join(
    tmpdir(),
    `atomic-bulk-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}.json`,
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', join(ROOT, 'bench/dist/bench/rss-hook.js'), ...args],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env,
        BENCH_RSS_FILE: rssFile,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const seconds = (performance.now() - started) / 1000;
  const { maxRssKiB } = JSON.parse(await readFile(rssFile, 'utf8')) as { maxRssKiB: number };
  await rm(rssFile, { force: true });
  return { seconds, maxRssMiB: maxRssKiB / 1024, stdout, code };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'atomic-bulk-bench-'));
  try {
    const file = join(dir, `campaign-${options.sizeMb}mb.csv`);
    process.stderr.write(`generating ${options.sizeMb} MB campaign file…\n`);
    const rows = await generateCampaign(file, options.sizeMb * 1_000_000);
    const bytes = (await stat(file)).size;
    const mib = bytes / 1024 / 1024;
    console.log(
      `atomic-bulk benchmark: ${fmt(mib)} MiB, ${rows.toLocaleString('en-US')} rows, 7 columns; node ${process.version}, ${cpus().length} cores, ${options.runs} run(s), median`,
    );
    console.log('');
    const ctx: BenchContext = { root: ROOT, dir, file, rows, measure };
    const results = new Map<string, StepResult>();
    const header = `${'step'.padEnd(44)}${'time'.padStart(9)}${'MiB/s'.padStart(9)}${'rows/s'.padStart(12)}${'peak RSS'.padStart(12)}${'vs csv-parse'.padStart(14)}`;
    console.log(header);
    for (const step of BENCH_STEPS) {
      if (options.only !== null && !options.only.has(step.key)) continue;
      const runs: StepResult[] = [];
      for (let r = 0; r < options.runs; r++) runs.push(await step.run(ctx));
      const result: StepResult = {
        seconds: median(runs.map((x) => x.seconds)),
        maxRssMiB: median(runs.map((x) => x.maxRssMiB)),
        note: runs[0]?.note,
      };
      results.set(step.key, result);
      const base = results.get('baseline');
      const ratio = base === undefined ? '' : `${fmt(base.seconds / result.seconds, 2)}×`;
      console.log(
        `${step.label.padEnd(44)}${`${fmt(result.seconds)} s`.padStart(9)}${fmt(mib / result.seconds).padStart(9)}${Math.round(
          rows / result.seconds,
        )
          .toLocaleString('en-US')
          .padStart(
            12,
          )}${`${fmt(result.maxRssMiB, 0)} MiB`.padStart(12)}${ratio.padStart(14)}${result.note ? `  ${result.note}` : ''}`,
      );
    }
    console.log('');
    for (const line of targets(results)) console.log(line);
    if (options.flatMb.length > 0) {
      const keys = ['validate', 'split', 'send'].filter(
        (k) => options.only === null || options.only.has(k),
      );
      await flatness(ctx, options.flatMb, keys);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function targets(results: Map<string, StepResult>): string[] {
  const out: string[] = [];
  const base = results.get('baseline');
  const check = (label: string, ok: boolean, detail: string) =>
    out.push(`${ok ? 'PASS' : 'MISS'}  ${label} (${detail})`);
  const ratio = (key: string) => {
    const r = results.get(key);
    return base && r ? base.seconds / r.seconds : null;
  };
  const v = ratio('validate');
  if (v !== null) check('validate ≥ 0.8× bare csv-parse', v >= 0.8, `${fmt(v, 2)}×`);
  const s = ratio('split');
  if (s !== null) check('split ≥ 0.7× bare csv-parse', s >= 0.7, `${fmt(s, 2)}×`);
  const split = results.get('split');
  const naive = results.get('roundtrip');
  if (split && naive)
    check(
      'split ≥ 2× naive parse → stringify round trip',
      naive.seconds / split.seconds >= 2,
      `${fmt(naive.seconds / split.seconds, 2)}×`,
    );
  const send = results.get('send');
  const dry = results.get('dry-run');
  if (send && dry)
    check(
      'send to the sandbox ≤ 1.25× send --dry-run',
      send.seconds / dry.seconds <= 1.25,
      `${fmt(send.seconds / dry.seconds, 2)}×`,
    );
  const shared = results.get('send-shared');
  if (shared && dry)
    out.push(
      `INFO  send with the sandbox at equal CPU priority: ${fmt(shared.seconds / dry.seconds, 2)}× send --dry-run`,
    );
  for (const [key, r] of results) {
    if (key !== 'baseline' && key !== 'roundtrip')
      check(`${key} peak RSS < 150 MiB`, r.maxRssMiB < 150, `${fmt(r.maxRssMiB, 0)} MiB`);
  }
  return out;
}

async function flatness(ctx: BenchContext, sizes: number[], keys: string[]): Promise<void> {
  const steps = BENCH_STEPS.filter((s) => keys.includes(s.key));
  if (steps.length === 0) return;
  console.log('');
  console.log(`memory flatness (peak RSS by input size): ${steps.map((s) => s.key).join(', ')}`);
  const seen = new Map<string, number[]>();
  for (const mb of sizes) {
    const file = join(ctx.dir, `flat-${mb}mb.csv`);
    process.stderr.write(`generating ${mb} MB campaign file…\n`);
    const rows = await generateCampaign(file, mb * 1_000_000);
    const cells: string[] = [];
    for (const step of steps) {
      const r = await step.run({ ...ctx, file, rows });
      seen.set(step.key, [...(seen.get(step.key) ?? []), r.maxRssMiB]);
      cells.push(`${step.key} ${fmt(r.seconds)} s, ${fmt(r.maxRssMiB, 0)} MiB`);
    }
    console.log(
      `  ${String(mb).padStart(6)} MB  ${rows.toLocaleString('en-US').padStart(12)} rows   ${cells.join('   ')}`,
    );
    await rm(file, { force: true });
  }
  for (const [key, values] of seen) {
    const spread = Math.max(...values) - Math.min(...values);
    const max = Math.max(...values);
    console.log(
      `${spread <= 25 && max < 150 ? 'PASS' : 'MISS'}  ${key} peak RSS flat across sizes (spread ${fmt(spread, 0)} MiB, max ${fmt(max, 0)} MiB)`,
    );
  }
}

await main();
