/**
 * `npm run bench`: a matrix of file shapes × steps. For every shape it generates a file at
 * run time, measures the peers a user would otherwise reach for (csv-parse, papaparse and
 * udsv doing a bare parse, Miller when installed, the naive csv-parse → csv-stringify
 * splitter) and atomic-bulk's commands on the same file in the same run, each as its own
 * process, with wall time, throughput and peak RSS; then it measures atomic-bulk again on
 * a large file of the same shape to show memory is flat, and checks the targets.
 *
 *   --size-mb N      main file size per shape (default 100)
 *   --large-mb N     size of the flatness file per shape (default 1024; "none" skips)
 *   --runs N         runs per measurement, median reported (default 1)
 *   --shapes a,b     only these shapes (short, unquoted, typical, wide, long-text, shared-id,
 *                    unicode)
 *   --only a,b       only these steps (csv-parse, papaparse, udsv, miller, read-limit, roundtrip,
 *                    validate, validate-gzip, validate-shards, split, dry-run, send-sink, send)
 *   --quick          CI mode: 8 MB and 24 MB files, one run
 *   --json PATH      also write the results as JSON
 *   --dir PATH       where to put generated files (default: OS temp dir)
 */
import { measureCampaign } from './campaign-scale.js';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { measureNode } from './measure.js';
import { generateShape, SHAPES, type Shape } from './shapes.js';
import {
  BENCH_STEPS,
  JS_PEERS,
  type BenchContext,
  type BenchStep,
  type Measured,
  type StepResult,
} from './steps.js';

// Compiled to bench/dist/bench/run.js.
const ROOT = resolve(import.meta.dirname, '../../..');
const RSS_LIMIT_MIB = 150;
const FLAT_SPREAD_MIB = 20;

interface Options {
  sizeMb: number;
  largeMb: number | null;
  runs: number;
  shapes: Set<string> | null;
  only: Set<string> | null;
  json: string | null;
  dir: string | null;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  const list = (v: string | undefined) => (v === undefined ? null : new Set(v.split(',')));
  const large = get('large-mb') ?? (quick ? '24' : '1024');
  return {
    sizeMb: Number(get('size-mb') ?? (quick ? 8 : 100)),
    largeMb: large === 'none' ? null : Number(large),
    runs: Number(get('runs') ?? 1),
    shapes: list(get('shapes')),
    only: list(get('only')),
    json: get('json') ?? null,
    dir: get('dir') ?? null,
  };
}

/** Runs a Node script as its own process; returns wall time and peak RSS. */
async function measure(args: string[], env: Record<string, string> = {}): Promise<Measured> {
  const { seconds, maxRssMiB, stdout, code } = await measureNode(ROOT, args, env);
  return { seconds, maxRssMiB, stdout, code };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const fmt = (n: number, digits = 1) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';

interface Cell extends StepResult {
  shape: string;
  step: string;
  sizeMiB: number;
  rows: number;
  /** Fastest JS peer's time / this step's time. */
  vsFastestJs: number | null;
}

interface Verdict {
  pass: boolean;
  text: string;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'atomic-bulk-bench-'));
  const cells: Cell[] = [];
  const verdicts: Verdict[] = [];
  const steps = BENCH_STEPS.filter(
    (s) => (options.only === null || options.only.has(s.key)) && (s.available?.() ?? true),
  );
  const shapes = SHAPES.filter((s) => options.shapes === null || options.shapes.has(s.key));
  console.log(
    `atomic-bulk benchmark: ${shapes.length} shapes at ${options.sizeMb} MB${options.largeMb === null ? '' : ` and ${options.largeMb} MB`}; node ${process.version}, ${cpus().length} cores, ${options.runs} run(s) per cell${options.runs > 1 ? ', median' : ''}`,
  );
  const head = `${'step'.padEnd(42)}${'time'.padStart(9)}${'MiB/s'.padStart(9)}${'rows/s'.padStart(12)}${'peak RSS'.padStart(11)}${'vs fastest JS'.padStart(15)}`;
  try {
    for (const shape of shapes) {
      const main = await measureShape(shape, options.sizeMb, steps, dir, options.runs);
      cells.push(...main);
      let large: Cell[] = [];
      if (options.largeMb !== null) {
        const tool = steps.filter((s) => !s.peer);
        large = await measureShape(shape, options.largeMb, tool, dir, options.runs, main);
        cells.push(...large);
      }
      console.log('');
      console.log(shape.label);
      console.log(head);
      for (const c of [...main, ...large]) console.log(row(c, steps));
      const v = judge(shape, main, large);
      verdicts.push(...v);
      for (const x of v) console.log(`${x.pass ? 'PASS' : 'MISS'}  ${x.text}`);
    }
    // The recurring-campaign ledger at two sizes (issue 25): a check within the budget.
    if (options.only === null && options.shapes === null)
      for (const [keys, rows] of options.sizeMb <= 8
        ? [[100_000, 100_000]]
        : [
            [1_000_000, 1_000_000],
            [50_000_000, 5_000_000],
          ])
        verdicts.push({
          pass: await measureCampaign(keys as number, rows as number),
          text: `campaign ledger ${keys} keys, ${rows} rows`,
        });
    const misses = verdicts.filter((v) => !v.pass).length;
    console.log('');
    console.log(`targets: ${verdicts.length - misses} PASS, ${misses} MISS`);
    if (options.json !== null)
      await writeFile(options.json, `${JSON.stringify({ options, cells, verdicts }, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureShape(
  shape: Shape,
  sizeMb: number,
  steps: BenchStep[],
  dir: string,
  runs: number,
  reference: Cell[] = [],
): Promise<Cell[]> {
  const file = join(dir, `${shape.key}-${sizeMb}mb.csv`);
  process.stderr.write(`generating ${shape.key} at ${sizeMb} MB…\n`);
  const rows = await generateShape(shape, file, sizeMb * 1_000_000);
  const sizeMiB = (await stat(file)).size / 1024 / 1024;
  const ctx: BenchContext = {
    root: ROOT,
    dir,
    file,
    rows,
    validateCode: shape.validateCode,
    measure,
  };
  const out: Cell[] = [];
  try {
    for (const step of steps) {
      process.stderr.write(`  ${shape.key} ${sizeMb} MB: ${step.key}…\n`);
      const results: StepResult[] = [];
      for (let r = 0; r < runs; r++) results.push(await step.run(ctx));
      out.push({
        shape: shape.key,
        step: step.key,
        sizeMiB,
        rows,
        seconds: median(results.map((x) => x.seconds)),
        maxRssMiB: median(results.map((x) => x.maxRssMiB)),
        note: results[0]?.note,
        vsFastestJs: null,
      });
    }
  } finally {
    // The file and what steps derived from it (gzip copy, shards) go before the next shape.
    for (const path of [file, `${file}.gz`, `${file}.shards`])
      await rm(path, { recursive: true, force: true });
  }
  // The yardstick: the fastest JS peer on the main-size file of this shape.
  const peers = [...reference, ...out].filter(
    (c) => JS_PEERS.includes(c.step) && Number.isFinite(c.seconds),
  );
  if (peers.length > 0) {
    const fastest = Math.min(...peers.map((c) => c.seconds / c.sizeMiB));
    for (const c of out) c.vsFastestJs = (fastest * c.sizeMiB) / c.seconds;
  }
  return out;
}

function row(c: Cell, steps: BenchStep[]): string {
  const label = `${steps.find((s) => s.key === c.step)?.label ?? c.step} @ ${fmt(c.sizeMiB, 0)} MiB`;
  const ratio = c.vsFastestJs === null ? '' : `${fmt(c.vsFastestJs, 2)}×`;
  return `${label.padEnd(42)}${`${fmt(c.seconds)} s`.padStart(9)}${fmt(c.sizeMiB / c.seconds).padStart(9)}${fmt(
    c.rows / c.seconds,
    0,
  ).padStart(
    12,
  )}${`${fmt(c.maxRssMiB, 0)} MiB`.padStart(11)}${ratio.padStart(15)}${c.note ? `  ${c.note}` : ''}`;
}

function judge(shape: Shape, main: Cell[], large: Cell[]): Verdict[] {
  const out: Verdict[] = [];
  const get = (cells: Cell[], key: string) =>
    cells.find((c) => c.step === key && Number.isFinite(c.seconds));
  const name = shape.key;
  const validate = get(main, 'validate');
  if (validate?.vsFastestJs != null)
    out.push({
      pass: validate.vsFastestJs >= 1.5,
      text: `${name}: validate ≥ 1.5× the fastest JS bare parse (${fmt(validate.vsFastestJs, 2)}×)`,
    });
  const limit = get(main, 'read-limit');
  if (limit && validate && name === 'typical')
    out.push({
      pass: validate.seconds <= 4 * limit.seconds,
      text: `${name}: validate ≤ 4× the read limit, reading and SHA-256-hashing the file (${fmt(validate.seconds / limit.seconds, 2)}×)`,
    });
  else if (limit && validate)
    out.push({
      pass: true,
      text: `${name}: INFO validate ${fmt(validate.seconds / limit.seconds, 2)}× the read limit`,
    });
  const dry = get(main, 'dry-run');
  if (dry && validate && shape.validateCode === 0)
    out.push({
      pass: dry.seconds <= 1.3 * validate.seconds,
      text: `${name}: send --dry-run ≤ 1.3× validate (${fmt(dry.seconds / validate.seconds, 2)}×)`,
    });
  const sink = get(main, 'send-sink');
  if (sink && dry)
    out.push({
      pass: sink.seconds <= 1.15 * dry.seconds,
      text: `${name}: send to the minimal sink ≤ 1.15× send --dry-run (${fmt(sink.seconds / dry.seconds, 2)}×)`,
    });
  const sandbox = get(main, 'send');
  if (sandbox && dry)
    out.push({
      pass: true,
      text: `${name}: INFO send to the sandbox ${fmt(sandbox.seconds / dry.seconds, 2)}× send --dry-run`,
    });
  for (const c of [...main, ...large]) {
    if (!BENCH_STEPS.find((s) => s.key === c.step)?.peer && Number.isFinite(c.maxRssMiB))
      out.push({
        pass: c.maxRssMiB <= RSS_LIMIT_MIB,
        text: `${name}: ${c.step} peak RSS ≤ ${RSS_LIMIT_MIB} MiB at ${fmt(c.sizeMiB, 0)} MiB (${fmt(c.maxRssMiB, 0)} MiB)`,
      });
  }
  for (const c of large) {
    const small = get(main, c.step);
    if (small === undefined || !Number.isFinite(c.maxRssMiB)) continue;
    const spread = c.maxRssMiB - small.maxRssMiB;
    out.push({
      pass: Math.abs(spread) <= FLAT_SPREAD_MIB,
      text: `${name}: ${c.step} memory flat from ${fmt(small.sizeMiB, 0)} to ${fmt(c.sizeMiB, 0)} MiB (${spread >= 0 ? '+' : ''}${fmt(spread, 0)} MiB)`,
    });
  }
  return out;
}

await main();
