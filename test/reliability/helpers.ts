/** Shared by the reliability suites: seeds, campaigns, and exactly-once checks. */
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { mulberry32 } from '../../src/sandbox/faults.js';
import type { Report } from '../../src/model/report.js';
import { tempDir } from '../e2e/cli.js';

/** The seed of this run: RELIABILITY_SEED to replay one, else a fresh one (always printed). */
export function runSeed(suite: string): number {
  const seed = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`[${suite}] seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  return seed;
}

/** A seeded pseudo-random source in [0, 1), the sandbox's own. */
export const prng = mulberry32;

export async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

/** A campaign for renewal-reminder with `n` rows (quoted commas, unicode, line breaks). */
export async function campaignFile(n: number): Promise<{ dir: string; input: string }> {
  const dir = await tempDir('atomic-bulk-reliability-');
  const rows = [
    'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,payload.metadata.note',
  ];
  for (let i = 1; i <= n; i++) rows.push(`user-${i},"Zoë, ${i}",${i}.5,"a\nb ${i % 13}"`);
  const input = join(dir, 'campaign.csv');
  await writeFile(input, `${rows.join('\n')}\n`);
  return { dir, input };
}

/** Every row 1..n arrived exactly once, with no conflicting re-send. */
export async function expectExactlyOnce(sb: Sandbox, n: number, context: string): Promise<void> {
  await sb.settle(60_000);
  const users = sb.invocations().map((i) => Number(i.target.atomic___id?.slice(5)));
  const counts = new Map<number, number>();
  for (const u of users) counts.set(u, (counts.get(u) ?? 0) + 1);
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((u) => !counts.has(u));
  const duplicated = [...counts].filter(([, c]) => c > 1).map(([u]) => u);
  expect({
    context,
    missing: missing.length,
    duplicated: duplicated.length,
    conflicts: sb.stats().conflicts,
  }).toEqual({
    context,
    missing: 0,
    duplicated: 0,
    conflicts: 0,
  });
}

/** The run's manifest: parts numbered 1..n, all uploaded, rows adding up to `rows`. */
export function expectConsistentManifest(stateDir: string, rows: number): void {
  const runs = readdirSync(join(stateDir, 'runs'));
  expect(runs).toHaveLength(1);
  const manifest = JSON.parse(
    readFileSync(join(stateDir, 'runs', runs[0] as string, 'manifest.json'), 'utf8'),
  ) as {
    complete: boolean;
    parts: {
      number: number;
      status: string;
      rows: number;
      firstRecord: number;
      lastRecord: number;
    }[];
  };
  expect(manifest.complete).toBe(true);
  expect(manifest.parts.map((p) => p.number)).toEqual(manifest.parts.map((_, i) => i + 1));
  expect(manifest.parts.every((p) => p.status === 'uploaded')).toBe(true);
  expect(manifest.parts.reduce((s, p) => s + p.rows, 0)).toBe(rows);
  for (const [i, p] of manifest.parts.entries()) {
    if (i > 0) expect(p.firstRecord).toBe((manifest.parts[i - 1]?.lastRecord ?? 0) + 1);
  }
}

export function reportOf(dir: string): Report {
  return JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
}
