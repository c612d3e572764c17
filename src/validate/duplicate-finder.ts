/**
 * Finds repeated keys (invocation ids, target tuples) in a stream of any length with
 * bounded memory. Each key is reduced to a 128-bit fingerprint plus its line and record
 * (24 bytes), bucketed by the fingerprint's top 8 bits into 256 partitions. Entries live
 * in one fixed pool of small chunks, allocated on first use, so memory never exceeds the
 * budget and nothing is reallocated; when the pool is full, every partition is written
 * to one spill file (partitions back to back) and the pool is reused. At the end each
 * partition is loaded alone (about 1/256 of the keys) and scanned in input order, so the
 * first occurrence of a key is always the earlier line.
 *
 * Duplicates are therefore known only after the whole input has been read. The price of
 * fingerprints is a collision probability of about n²/2¹²⁹ (docs/decisions.md).
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PARTITIONS = 256;
/** Words per entry: four hash words, line, record. */
const WORDS = 6;
/** Entries per chunk of the pool. */
const CHUNK_ENTRIES = 64;
const CHUNK_WORDS = CHUNK_ENTRIES * WORDS;

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

  constructor(options: DuplicateFinderOptions = {}) {
    const words = Math.floor((options.memoryBytes ?? 4 * 1024 * 1024) / 4);
    // At least one chunk per partition, plus room to fill.
    this.chunkCount = Math.max(2 * PARTITIONS, Math.floor(words / CHUNK_WORDS));
    this.tempParent = options.tempDir ?? tmpdir();
  }

  /** True when the pool is nearly full; call `spill()` before adding many more keys. */
  get shouldSpill(): boolean {
    return this.nextChunk >= this.chunkCount - PARTITIONS;
  }

  /** Adds a key fingerprint seen at `line` / `record`. */
  add(hash: Uint32Array, line: number, record: number): void {
    const p = (hash[0] as number) >>> 24;
    const list = this.chunks[p] as number[];
    let fill = this.lastFill[p] as number;
    if (list.length === 0 || fill === CHUNK_WORDS) {
      list.push(this.takeChunk());
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

  private takeChunk(): number {
    this.pool ??= new Uint32Array(this.chunkCount * CHUNK_WORDS);
    if (this.nextChunk >= this.chunkCount) {
      // More keys arrived in one batch than the spill margin: grow once, rarely.
      const grown = new Uint32Array(this.pool.length + PARTITIONS * CHUNK_WORDS);
      grown.set(this.pool);
      this.pool = grown;
    }
    return this.nextChunk++;
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

  /** Writes every partition to one spill file and empties the pool. */
  async spill(): Promise<void> {
    if (this.pool === null || this.nextChunk === 0) return;
    this.spillDir ??= await mkdtemp(join(this.tempParent, 'atomic-bulk-dups-'));
    const path = join(this.spillDir, `${this.spills.length}.bin`);
    const offsets = new Float64Array(PARTITIONS + 1);
    const handle = await open(path, 'w');
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
      for (let k = 0; k < bytes.length; k += 512) await handle.writev(bytes.slice(k, k + 512));
    } finally {
      await handle.close();
    }
    this.spills.push({ path, offsets });
    this.reset();
  }

  /** Every key seen before, with the line of its first occurrence; partition by partition. */
  async *duplicates(): AsyncGenerator<Duplicate> {
    const handles = await Promise.all(this.spills.map((s) => open(s.path, 'r')));
    // One buffer for the entries and one for the table, sized for the largest partition
    // and reused for all 256, so finishing a multi-GB file does not churn memory.
    let largest = 0;
    for (let p = 0; p < PARTITIONS; p++) largest = Math.max(largest, this.partitionWords(p));
    const entries = new Uint32Array(largest);
    const table = new Int32Array(tableSize(largest / WORDS));
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        const words = await this.loadPartition(p, handles, entries);
        if (words > WORDS) yield* scanPartition(entries.subarray(0, words), table);
      }
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  }

  private partitionWords(p: number): number {
    let words = this.pool === null ? 0 : this.views(p).reduce((n, v) => n + v.length, 0);
    for (const s of this.spills) words += (s.offsets[p + 1] as number) - (s.offsets[p] as number);
    return words;
  }

  /** Removes spill files and frees the pool. Safe to call more than once. */
  async close(): Promise<void> {
    this.reset();
    this.pool = null;
    if (this.spillDir !== null) {
      await rm(this.spillDir, { recursive: true, force: true });
      this.spillDir = null;
    }
  }

  private reset(): void {
    this.chunks = Array.from({ length: PARTITIONS }, () => []);
    this.lastFill.fill(0);
    this.nextChunk = 0;
  }

  /** Loads partition p into `all` in input order (each spill's share, then memory); returns its words. */
  private async loadPartition(p: number, handles: FileHandle[], all: Uint32Array): Promise<number> {
    let at = 0;
    for (const [k, s] of this.spills.entries()) {
      const from = s.offsets[p] as number;
      const n = (s.offsets[p + 1] as number) - from;
      if (n === 0) continue;
      await (handles[k] as FileHandle).read(
        new Uint8Array(all.buffer, at * 4, n * 4),
        0,
        n * 4,
        from * 4,
      );
      at += n;
    }
    if (this.pool !== null) {
      for (const view of this.views(p)) {
        all.set(view, at);
        at += view.length;
      }
    }
    return at;
  }
}

function tableSize(entries: number): number {
  let size = 1;
  while (size < entries * 2) size <<= 1;
  return size;
}

/** Open-addressing pass over one partition's entries, in input order, in `space`. */
function* scanPartition(entries: Uint32Array, space: Int32Array): Generator<Duplicate> {
  const count = entries.length / WORDS;
  const size = tableSize(count);
  const mask = size - 1;
  const table = space.subarray(0, size).fill(-1);
  for (let k = 0; k < count; k++) {
    const at = k * WORDS;
    let slot = (entries[at + 1] as number) & mask;
    for (;;) {
      const other = table[slot] as number;
      if (other === -1) {
        table[slot] = k;
        break;
      }
      const o = other * WORDS;
      if (
        entries[o] === entries[at] &&
        entries[o + 1] === entries[at + 1] &&
        entries[o + 2] === entries[at + 2] &&
        entries[o + 3] === entries[at + 3]
      ) {
        yield {
          line: entries[at + 4] as number,
          record: entries[at + 5] as number,
          firstLine: entries[o + 4] as number,
          firstRecord: entries[o + 5] as number,
        };
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
}
