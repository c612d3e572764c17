/**
 * Recurring campaigns in tests: a month of simulated daily exports with churn (users
 * entering, leaving, coming back, their variables changing), the model of who must be sent
 * each day under --once-per, and the checks against what the sandbox received. Shared by
 * the e2e tier (local state) and the S3 tier (radosgw state).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Sandbox } from '../src/sandbox/sandbox.js';
import { mulberry32 } from '../src/sandbox/faults.js';
import { BIN, ROOT } from './e2e/cli.js';

export const HEADER =
  'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';
const DAY_MS = 86_400_000;
/** The first simulated day, 07:00 UTC. */
export const DAY0 = Date.parse('2027-01-04T07:00:00Z');

export interface Month {
  /** The users of each day's export, in file order. */
  days: string[][];
  /** Writes day d's export (variables change from day to day) and returns its path. */
  write(d: number, dir: string): Promise<string>;
}

/** `days` daily exports drawn from `pool` users with churn, seeded. */
export function month(seed: number, days: number, pool: number): Month {
  const random = mulberry32(seed);
  const ids = Array.from({ length: pool }, (_, i) => `member-${String(i + 1).padStart(5, '0')}`);
  let current = new Set(ids.slice(0, Math.floor(pool / 3)));
  const out: string[][] = [];
  for (let d = 0; d < days; d++) {
    // About a tenth leave; about as many enter (new ones and some who left before).
    const next = new Set([...current].filter(() => random() > 0.1));
    const enter = Math.max(1, Math.round(current.size * 0.12));
    for (let k = 0; k < enter; k++) next.add(ids[Math.floor(random() * pool)] as string);
    current = next;
    const today = [...current].sort(() => random() - 0.5);
    // Now and then a user twice in one export (a join in the warehouse).
    if (random() < 0.3 && today.length > 0) today.push(today[0] as string);
    out.push(today);
  }
  return {
    days: out,
    async write(d, dir) {
      const path = join(dir, `export-day-${String(d + 1).padStart(2, '0')}.csv`);
      const lines = (out[d] as string[]).map(
        (u, k) => `${u},Name ${u.slice(-3)},${(d * 7 + k) % 500}.25`,
      );
      await writeFile(path, `${HEADER}\n${lines.join('\n')}\n`);
      return path;
    },
  };
}

/** The sends each user must get: day by day, a key is sent when never sent or `oncePerDays` ago. */
export function expectedSends(days: string[][], oncePerDays: number | null): Map<string, number[]> {
  const sent = new Map<string, number[]>();
  days.forEach((users, d) => {
    for (const u of new Set(users)) {
      const past = sent.get(u) ?? [];
      const last = past.at(-1);
      if (last === undefined || (oncePerDays !== null && d - last >= oncePerDays))
        sent.set(u, [...past, d]);
    }
  });
  return sent;
}

/**
 * The rehearsal clock of day d (the CLI accepts it against a sandbox on this machine). Each
 * day's run starts two seconds later than the day before, as a cron job's start drifts: a
 * run seven days after another is then clearly seven days after it, whatever each one's
 * start-up took (keys are compared to the second, start to start).
 */
export function clockOf(d: number, minutes = 0): string {
  return `${new Date(DAY0 + d * DAY_MS + d * 2000 + minutes * 60_000).toISOString()}@1`;
}

/** New invocations per user (a row Atomic absorbed as a repeat of an id is not one). */
export async function invocationsByUser(sb: Sandbox): Promise<Map<string, number>> {
  await sb.settle(60_000);
  const counts = new Map<string, number>();
  for (const i of sb.invocations()) {
    const u = i.target.atomic___id ?? '';
    counts.set(u, (counts.get(u) ?? 0) + 1);
  }
  return counts;
}

/** Every user got exactly the sends the model says; nothing conflicted. */
export async function expectSends(
  sb: Sandbox,
  expected: Map<string, number[]>,
  context: string,
): Promise<void> {
  const got = await invocationsByUser(sb);
  const wrong: string[] = [];
  for (const [u, days] of expected)
    if ((got.get(u) ?? 0) !== days.length)
      wrong.push(`${u}: ${got.get(u) ?? 0} cards, expected ${days.length}`);
  for (const u of got.keys()) if (!expected.has(u)) wrong.push(`${u}: never in an export`);
  expect({ context, wrong: wrong.slice(0, 10), conflicts: sb.stats().conflicts }).toEqual({
    context,
    wrong: [],
    conflicts: 0,
  });
}

/** Every file under `dir`, read as bytes. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

/** No key value appears in any file of the state directory (as text or UTF-16). */
export function expectNoRawKeys(files: { name: string; bytes: Buffer }[], keys: string[]): void {
  const found: string[] = [];
  for (const f of files) {
    const text = f.bytes.toString('latin1');
    for (const k of keys)
      if (text.includes(k) || f.bytes.includes(Buffer.from(k, 'utf16le')))
        found.push(`${k} in ${f.name}`);
  }
  expect(found.slice(0, 5)).toEqual([]);
}

export function localFiles(dir: string): { name: string; bytes: Buffer }[] {
  return filesUnder(dir).map((name) => ({ name, bytes: readFileSync(name) }));
}

/** Starts the CLI; `kill(child)` may be called by the caller; resolves with the exit. */
export function start(
  args: string[],
  env: Record<string, string>,
): {
  child: ReturnType<typeof spawn>;
  done: Promise<{ code: number | null; signal: string | null; stderr: string }>;
} {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}
