/**
 * Crash and resume: SIGKILL a send at seeded moments across validation, cutting, URL
 * requests and uploads, then run it again; nothing may be lost or sent twice, and the
 * manifest must end consistent. Each kill's phase is recorded from the progress events
 * seen before it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, readReport, ROOT, runCli, sendArgs } from '../e2e/cli.js';
import {
  campaignFile,
  expectConsistentManifest,
  expectExactlyOnce,
  prng,
  runSeed,
  sandbox,
} from './helpers.js';

const SEED = runSeed('crash');
const ROWS = 3000;
const TRIALS = 24;
const PHASES = ['validate', 'cut', 'url', 'upload'] as const;
type Phase = (typeof PHASES)[number];

interface Kill {
  /** Progress event after which the timer starts. */
  after: (event: { type: string; phase?: string; status?: string }) => boolean;
  /** Extra delay after that event, ms. */
  delayMs: number;
}

function killPlan(phase: Phase, random: () => number, nth: number): Kill {
  switch (phase) {
    case 'validate':
      return {
        after: (e) => e.type === 'phase' && e.phase === 'validate',
        delayMs: Math.floor(random() * 60),
      };
    case 'cut':
      // While the first parts are being cut (reading has started, few parts exist).
      return {
        after: (e) => e.type === 'phase' && e.phase === 'upload',
        delayMs: Math.floor(random() * 30),
      };
    case 'url':
      // Right after a part is cut, while its csv-task URL is being requested.
      return {
        after: countdown((e) => e.type === 'part' && e.status === 'cut', 1 + (nth % 5)),
        delayMs: Math.floor(random() * 25),
      };
    case 'upload':
      return {
        after: countdown((e) => e.type === 'part' && e.status === 'uploading', 1 + (nth % 7)),
        delayMs: Math.floor(random() * 40),
      };
  }
}

function countdown(match: (e: { type: string; status?: string }) => boolean, n: number) {
  let left = n;
  return (e: { type: string; status?: string }) => match(e) && --left === 0;
}

describe(`crash and resume (seed ${SEED})`, () => {
  it(`loses nothing and sends nothing twice across ${TRIALS} SIGKILLs`, async () => {
    const random = prng(SEED);
    const seen: Record<string, number> = {};
    for (let trial = 0; trial < TRIALS; trial++) {
      const phase = PHASES[trial % PHASES.length] as Phase;
      const plan = killPlan(phase, random, trial);
      const sb = await sandbox({ faults: { latencyMs: 25, seed: SEED + trial } });
      const { dir, input } = await campaignFile(ROWS);
      const state = join(dir, 'state');
      const args = (report: string) =>
        sendArgs(input, state, join(dir, report), [
          '--max-part-bytes',
          '4000',
          '--concurrency',
          String(1 + (trial % 3)),
        ]);
      const child = spawn(process.execPath, [BIN, ...args('r1'), '--progress', 'json'], {
        cwd: ROOT,
        env: { ...process.env, ...sb.env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let last = 'start';
      let armed = false;
      let buffer = '';
      child.stderr.on('data', (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          let event: { type: string; phase?: string; status?: string };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            continue;
          }
          if (event.type === 'phase') last = event.phase ?? last;
          if (event.type === 'part') last = `part ${event.status ?? ''}`;
          if (!armed && plan.after(event)) {
            armed = true;
            setTimeout(() => child.kill('SIGKILL'), plan.delayMs);
          }
        }
      });
      const outcome = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on('close', (code, signal) => resolve({ code, signal })),
      );
      const where =
        outcome.signal === 'SIGKILL'
          ? `${phase} (after ${last})`
          : `${phase} (finished before the kill)`;
      seen[where] = (seen[where] ?? 0) + 1;
      const resumed = await runCli(args('r2'), {
        env: sb.env,
        timeoutMs: 120_000,
      });
      expect(resumed.code, `trial ${trial} (${where}), seed ${SEED}: ${resumed.stderr}`).toBe(0);
      const { rows } = readReport(join(dir, 'r2'));
      expect(rows.total).toBe(ROWS);
      expect(rows.sent + rows.alreadySent).toBe(ROWS);
      await expectExactlyOnce(sb, ROWS, `trial ${trial}, killed in ${where}, seed ${SEED}`);
      expectConsistentManifest(state, ROWS);
      await sb.stop();
    }
    console.log(`[crash] kills by phase: ${JSON.stringify(seen)}`);
    const killed = Object.entries(seen)
      .filter(([k]) => !k.includes('finished'))
      .reduce((n, [, v]) => n + v, 0);
    expect(killed).toBeGreaterThanOrEqual(20);
  });
});
