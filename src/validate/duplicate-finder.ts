/**
 * Finds repeated keys (invocation ids, target tuples) in a stream of any length with
 * bounded memory. Each key is reduced to a 128-bit fingerprint plus its line and record
 * (24 bytes), bucketed by the fingerprint's top 8 bits into 256 partitions. Entries live
 * in one fixed pool of small chunks, allocated once; when the pool is full, every
 * partition is written to one spill file (partitions back to back) and the pool is
 * reused. Nothing is ever reallocated while keys arrive, so the cost of `add` is constant
 * whatever the rows' size or how many keys one batch brings.
 *
 * At the end each partition is streamed, in input order (each spill's share, then the
 * pool), through a table of the *distinct* keys seen so far in that partition: a repeat is
 * reported against the first occurrence, which is never stored twice. Memory at the end is
 * therefore the distinct keys of one partition (about 1/256 of the distinct keys), not its
 * entries: a million rows sharing one id cost one table slot.
 *
 * Duplicates are known only after the whole input has been read. The price of
 * fingerprints is a collision probability of about n²/2¹²⁹ (docs/decisions.md).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writevSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PARTITIONS = 256;
/** Words per entry: four hash words, line, record. */
const WORDS = 6;
/** Entries per chunk of the pool. */
const CHUNK_ENTRIES = 64;
const CHUNK_WORDS = CHUNK_ENTRIES * WORDS;
/** Entries read from a spill file at a time while scanning (1.5 MiB). */
const READ_ENTRIES = 65_536;

export interface Duplicate {
  line: number;
  record: number;
  firstLine: number;
  firstRecord: number;
}

export interface DuplicateFinderOptions {
  /** Memory for pending entries before they spill to disk. Default 4 MiB. */
  memoryBytes?: number;
  /** Where spill files go. Default: the OS temporary directory. */
  tempDir?: string;
}

interface Spill {
  path: string;
  /** Word offset of each partition in the file; PARTITIONS + 1 entries. */
  offsets: Float64Array;
}

export class DuplicateFinder {
  private readonly chunkCount: number;
  private readonly tempParent: string;
  private pool: Uint32Array | null = null;
  private nextChunk = 0;
  /** Chunks of each partition, in order; the last one is being filled. */
  private chunks: number[][] = Array.from({ length: PARTITIONS }, () => []);
  /** Words used in each partition's last chunk. */
  private readonly lastFill = new Int32Array(PARTITIONS);
  private spillDir: string | null = null;
  private readonly spills: Spill[] = [];
  /** Keys added so far. */
  size = 0;
  /** Times the pool was written to disk (for tests and diagnostics). */
  spillCount = 0;

  constructor(options: DuplicateFinderOptions = {}) {
    const words = Math.floor((options.memoryBytes ?? 4 * 1024 * 1024) / 4);
    // At least one chunk per partition, plus room to fill.
    this.chunkCount = Math.max(2 * PARTITIONS, Math.floor(words / CHUNK_WORDS));
    this.tempParent = options.tempDir ?? tmpdir();
  }

  /** Words the pool holds when allocated (its memory is four times this). */
  get poolWords(): number {
    return this.chunkCount * CHUNK_WORDS;
  }

  /** Adds a key fingerprint seen at `line` / `record`. */
  add(hash: Uint32Array, line: number, record: number): void {
    const p = (hash[0] as number) >>> 24;
    let list = this.chunks[p] as number[];
    let fill = this.lastFill[p] as number;
    if (list.length === 0 || fill === CHUNK_WORDS) {
      if (this.nextChunk === this.chunkCount) {
        this.spill();
        list = this.chunks[p] as number[];
      }
      this.pool ??= new Uint32Array(this.chunkCount * CHUNK_WORDS);
      list.push(this.nextChunk++);
      fill = 0;
    }
    const pool = this.pool as Uint32Array;
    const at = (list[list.length - 1] as number) * CHUNK_WORDS + fill;
    pool[at] = hash[0] as number;
    pool[at + 1] = hash[1] as number;
    pool[at + 2] = hash[2] as number;
    pool[at + 3] = hash[3] as number;
    pool[at + 4] = line;
    pool[at + 5] = record;
    this.lastFill[p] = fill + WORDS;
    this.size++;
  }

  /** The words of partition p held in memory, in order, as views into the pool. */
  private views(p: number): Uint32Array[] {
    const list = this.chunks[p] as number[];
    const pool = this.pool as Uint32Array;
    return list.map((chunk, k) => {
      const used = k === list.length - 1 ? (this.lastFill[p] as number) : CHUNK_WORDS;
      return pool.subarray(chunk * CHUNK_WORDS, chunk * CHUNK_WORDS + used);
    });
  }

  /**
   * Writes every partition to one spill file and empties the pool. Synchronous: it runs
   * inside `add` when the pool is full, once per 4 MiB of keys (a few milliseconds).
   */
  private spill(): void {
    if (this.pool === null || this.nextChunk === 0) return;
    this.spillDir ??= mkdtempSync(join(this.tempParent, 'atomic-bulk-dups-'));
    const path = join(this.spillDir, `${this.spills.length}.bin`);
    const offsets = new Float64Array(PARTITIONS + 1);
    const fd = openSync(path, 'wx', 0o600);
    try {
      let words = 0;
      const bytes: Uint8Array[] = [];
      for (let p = 0; p < PARTITIONS; p++) {
        offsets[p] = words;
        for (const view of this.views(p)) {
          words += view.length;
          bytes.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        }
      }
      offsets[PARTITIONS] = words;
      for (let k = 0; k < bytes.length; k += 512) writeAll(fd, bytes.slice(k, k + 512));
    } finally {
      closeSync(fd);
    }
    this.spills.push({ path, offsets });
    this.spillCount++;
    this.reset();
  }

  /** Every key seen before, with the line of its first occurrence; partition by partition. */
  async *duplicates(): AsyncGenerator<Duplicate> {
    const handles: FileHandle[] = [];
    try {
      for (const s of this.spills) handles.push(await open(s.path, 'r'));
      const read = new Uint32Array(READ_ENTRIES * WORDS);
      const table = new DistinctKeys();
      let sinceTurn = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        table.clear();
        for (const [k, s] of this.spills.entries()) {
          let from = s.offsets[p] as number;
          const end = s.offsets[p + 1] as number;
          while (from < end) {
            const n = Math.min(read.length, end - from);
            const bytes = new Uint8Array(read.buffer, 0, n * 4);
            await readFully(handles[k] as FileHandle, bytes, from * 4);
            yield* table.scan(read.subarray(0, n));
            from += n;
            sinceTurn += n;
          }
        }
        if (this.pool !== null) {
          for (const view of this.views(p)) {
            yield* table.scan(view);
            sinceTurn += view.length;
          }
        }
        // Let signals and timers run: a partition of a million repeats is all microtasks.
        if (sinceTurn >= READ_ENTRIES * WORDS) {
          sinceTurn = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  }

  /** Removes spill files and frees the pool. Safe to call more than once. */
  async close(): Promise<void> {
    this.reset();
    this.pool = null;
    if (this.spillDir !== null) {
      rmSync(this.spillDir, { recursive: true, force: true });
      this.spillDir = null;
    }
    await Promise.resolve();
  }

  private reset(): void {
    this.chunks = Array.from({ length: PARTITIONS }, () => []);
    this.lastFill.fill(0);
    this.nextChunk = 0;
  }
}

function writeAll(fd: number, views: Uint8Array[]): void {
  let total = 0;
  for (const v of views) total += v.byteLength;
  let written = writevSync(fd, views);
  // A short write is rare on a regular file; finish it view by view.
  if (written === total) return;
  for (const v of views) {
    if (written >= v.byteLength) {
      written -= v.byteLength;
      continue;
    }
    let at = written;
    written = 0;
    while (at < v.byteLength) at += writevSync(fd, [v.subarray(at)]);
  }
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number): Promise<void> {
  let at = 0;
  while (at < into.length) {
    const { bytesRead } = await handle.read(into, at, into.length - at, position + at);
    if (bytesRead === 0) throw new Error('duplicate finder: spill file is shorter than written');
    at += bytesRead;
  }
}

/**
 * An open-addressing set of the distinct fingerprints of one partition, with the line and
 * record of each key's first occurrence. It grows with the distinct keys only.
 */
class DistinctKeys {
  private keys = new Uint32Array(1024 * WORDS);
  private slots = new Int32Array(2048).fill(-1);
  private count = 0;

  clear(): void {
    this.count = 0;
    this.slots.fill(-1);
  }

  /** Feeds entries in input order; yields each one whose key was seen before. */
  *scan(entries: Uint32Array): Generator<Duplicate> {
    for (let at = 0; at < entries.length; at += WORDS) {
      const first = this.find(entries, at);
      if (first >= 0) {
        const keys = this.keys;
        yield {
          line: entries[at + 4] as number,
          record: entries[at + 5] as number,
          firstLine: keys[first * WORDS + 4] as number,
          firstRecord: keys[first * WORDS + 5] as number,
        };
      }
    }
  }

  /** The index of an earlier equal key, or -1 after inserting this one. */
  private find(e: Uint32Array, at: number): number {
    let mask = this.slots.length - 1;
    let slot = (e[at + 1] as number) & mask;
    const keys = this.keys;
    for (;;) {
      const k = this.slots[slot] as number;
      if (k === -1) break;
      const o = k * WORDS;
      if (
        keys[o] === e[at] &&
        keys[o + 1] === e[at + 1] &&
        keys[o + 2] === e[at + 2] &&
        keys[o + 3] === e[at + 3]
      ) {
        return k;
      }
      slot = (slot + 1) & mask;
    }
    if ((this.count + 1) * 2 > this.slots.length) {
      this.grow();
      mask = this.slots.length - 1;
      slot = (e[at + 1] as number) & mask;
      while ((this.slots[slot] as number) !== -1) slot = (slot + 1) & mask;
    }
    if ((this.count + 1) * WORDS > this.keys.length) {
      const keys2 = new Uint32Array(this.keys.length * 2);
      keys2.set(this.keys);
      this.keys = keys2;
    }
    this.keys.set(e.subarray(at, at + WORDS), this.count * WORDS);
    this.slots[slot] = this.count++;
    return -1;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let k = 0; k < this.count; k++) {
      let slot = (this.keys[k * WORDS + 1] as number) & mask;
      while ((slots[slot] as number) !== -1) slot = (slot + 1) & mask;
      slots[slot] = k;
    }
    this.slots = slots;
  }
}
