/**
 * The export's periods already read by `reconcile --wait`, kept between looks as sorted
 * event runs on disk (private, removed at the end): an exported period does not change
 * once listed (SPEC 6.1), so a later look downloads only the periods it has not read.
 * The runs are merged into one when there are many, so a month of hourly files is read
 * through a few cursors, not hundreds.
 */
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeOwnedTempDir, removeOwnedTempDir, PRIVATE_FILE_MODE } from '../files/private-files.js';
import { type Cursor, MergedCursor, runCursors } from '../files/sorted-runs.js';
import { emptyStats, type EventStats } from './analytics-events.js';

/** Runs kept before they are merged into one. */
const MAX_RUNS = 16;

export class ExportCache {
  private runs: string[] = [];
  private readonly periods = new Set<string>();
  private stats: EventStats = emptyStats();
  private merges = 0;

  private constructor(
    readonly dir: string,
    private readonly width: number,
  ) {}

  static async open(width: number): Promise<ExportCache> {
    return new ExportCache(await makeOwnedTempDir('export'), width);
  }

  has(period: string): boolean {
    return this.periods.has(period);
  }

  /**
   * Keeps only periods of `listed`: a period read before and no longer listed (which an
   * export that only grows does not do) empties the cache, to be read again.
   */
  async keepOnly(listed: ReadonlySet<string>): Promise<void> {
    for (const period of this.periods)
      if (!listed.has(period)) {
        await this.clear();
        return;
      }
  }

  /** A period read: its sorted runs (now the cache's files) and what its lines held. */
  async add(period: string, runs: readonly string[], stats: EventStats): Promise<void> {
    this.periods.add(period);
    this.runs.push(...runs);
    this.stats = addStats(this.stats, stats);
    if (this.runs.length > MAX_RUNS) await this.compact();
  }

  /** The kept events as sorted cursors (each call its own). */
  cursors(): Cursor[] {
    return runCursors(this.runs, this.width);
  }

  /** What the kept periods' lines held. */
  counted(): EventStats {
    return { ...this.stats };
  }

  get size(): number {
    return this.periods.size;
  }

  async close(): Promise<void> {
    await this.clear();
    await removeOwnedTempDir(this.dir);
  }

  private async clear(): Promise<void> {
    for (const path of this.runs) await rm(path, { force: true });
    this.runs = [];
    this.periods.clear();
    this.stats = emptyStats();
  }

  /** Merges every kept run into one file. */
  private async compact(): Promise<void> {
    const merged = new MergedCursor(this.cursors(), this.width);
    const path = join(this.dir, `merged-${++this.merges}.bin`);
    const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
    try {
      while (await merged.fill()) await handle.write(merged.buf, 0, merged.end, null);
    } finally {
      await handle.close();
      await merged.close();
    }
    for (const old of this.runs) await rm(old, { force: true });
    this.runs = [path];
  }
}

/** Two accounts of export lines added together (the first unreadable line's keys kept). */
export function addStats(a: EventStats, b: EventStats): EventStats {
  return {
    lines: a.lines + b.lines,
    events: a.events + b.events,
    otherKinds: a.otherKinds + b.otherKinds,
    withoutId: a.withoutId + b.withoutId,
    unreadable: a.unreadable + b.unreadable,
    unreadableKeys: a.unreadableKeys ?? b.unreadableKeys,
  };
}
