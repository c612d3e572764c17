/**
 * The runs a state directory holds, for `atomic-bulk runs list|prune`: what each run is
 * (destination, flow, progress, age), whether a process is working on it, and how many
 * bytes of part files it still keeps. Pruning removes a run's whole directory — manifest,
 * id files, any part files — after taking its lock, so a run in progress is never pulled
 * from under its send.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { releasePidLock, takePidLock } from '../files/private-files.js';
import type { Manifest } from './run-state.js';

export interface RunEntry {
  /** The run's directory name under runs/ (or dry-runs/). */
  key: string;
  dir: string;
  kind: 'run' | 'dry-run';
  runId: string | null;
  apiOrigin: string | null;
  environmentId: string | null;
  flowConfigId: string | null;
  mode: string | null;
  source: string | null;
  createdAt: string | null;
  updatedAt: string;
  complete: boolean;
  sentInFullAt: string | null;
  parts: number;
  uploaded: number;
  failed: number;
  /** Part files still on disk (personal data) and their total size. */
  partFiles: number;
  partBytes: number;
  /** The manifest could not be read (a damaged or foreign directory). */
  unreadable: boolean;
}

async function filesIn(dir: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^part-\d+\.csv$/.test(name) && !name.endsWith('.tmp')) continue;
    const s = await stat(join(dir, name)).catch(() => null);
    if (s === null) continue;
    count++;
    bytes += s.size;
  }
  return { count, bytes };
}

async function readRun(dir: string, key: string): Promise<RunEntry> {
  const files = await filesIn(join(dir, 'parts'));
  const modified = (await stat(dir).catch(() => null))?.mtime ?? new Date(0);
  const base: RunEntry = {
    key,
    dir,
    kind: 'run',
    runId: null,
    apiOrigin: null,
    environmentId: null,
    flowConfigId: null,
    mode: null,
    source: null,
    createdAt: null,
    updatedAt: modified.toISOString(),
    complete: false,
    sentInFullAt: null,
    parts: 0,
    uploaded: 0,
    failed: 0,
    partFiles: files.count,
    partBytes: files.bytes,
    unreadable: true,
  };
  try {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Partial<Manifest>;
    const parts = Array.isArray(m.parts) ? m.parts : [];
    return {
      ...base,
      runId: typeof m.runId === 'string' ? m.runId : null,
      apiOrigin: m.destination?.apiOrigin ?? null,
      environmentId: m.destination?.environmentId ?? null,
      flowConfigId: m.flow?.flowConfigId ?? null,
      mode: m.flow?.mode ?? null,
      source: m.input?.source ?? null,
      createdAt: m.createdAt ?? null,
      updatedAt: m.updatedAt ?? base.updatedAt,
      complete: m.complete === true,
      sentInFullAt: m.sentInFullAt ?? null,
      parts: parts.length,
      uploaded: parts.filter((p) => p.status === 'uploaded').length,
      failed: parts.filter((p) => p.status === 'failed').length,
      unreadable: false,
    };
  } catch {
    return base;
  }
}

/** Every run and kept dry run under `stateDir`, oldest update first. */
export async function listRuns(stateDir: string): Promise<RunEntry[]> {
  const entries: RunEntry[] = [];
  const runs = join(stateDir, 'runs');
  for (const key of await readdir(runs).catch(() => [] as string[]))
    entries.push(await readRun(join(runs, key), key));
  const dry = join(stateDir, 'dry-runs');
  for (const key of await readdir(dry).catch(() => [] as string[])) {
    const dir = join(dry, key);
    const files = await filesIn(dir);
    const modified = (await stat(dir).catch(() => null))?.mtime ?? new Date(0);
    entries.push({
      ...(await readRun(dir, key)),
      kind: 'dry-run',
      updatedAt: modified.toISOString(),
      partFiles: files.count,
      partBytes: files.bytes,
      unreadable: false,
    });
  }
  return entries.sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
}

export interface PruneResult {
  removed: RunEntry[];
  /** Runs that matched but are being worked on by a live process. */
  busy: { entry: RunEntry; pid: number }[];
}

/**
 * Removes the runs `select` picks. Each is locked first; one held by a live process is
 * left alone and reported. With `dryRun`, nothing is removed.
 */
export async function pruneRuns(
  stateDir: string,
  select: (entry: RunEntry) => boolean,
  dryRun = false,
): Promise<PruneResult> {
  const result: PruneResult = { removed: [], busy: [] };
  for (const entry of (await listRuns(stateDir)).filter(select)) {
    const holder = await takePidLock(entry.dir, 'lock').catch(() => null);
    if (holder !== null) {
      result.busy.push({ entry, pid: holder });
      continue;
    }
    if (dryRun) await releasePidLock(entry.dir, 'lock');
    else {
      await rm(entry.dir, { recursive: true, force: true });
      await releasePidLock(entry.dir, 'lock');
    }
    result.removed.push(entry);
  }
  return result;
}

/**
 * "30d", "12h", "90m", "45s", "200ms" → milliseconds; a bare number is in `unit`. Null
 * when the text is none of those.
 */
export function parseDuration(text: string, unit: 'd' | 's' = 'd'): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(d|h|m|s|ms)?$/.exec(text.trim());
  if (m === null) return null;
  const ms = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] ?? unit] as number;
  return Math.round(Number(m[1]) * ms);
}
