/**
 * Finds repeated keys (invocation ids, target tuples) in a stream of any length with
 * bounded memory. Each key is reduced to a 128-bit fingerprint plus its line and record
 * (24 bytes), bucketed by the fingerprint's top 8 bits into 256 partitions. While the
 * buckets fit in `memoryBytes` they stay in memory; past that they are written out as
 * one spill file (partitions back to back) and memory is reused. At the end each
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

export interface Duplicate {
  line: number;
  record: number;
  firstLine: number;
  firstRecord: number;
}

export interface DuplicateFinderOptions {
  /** Memory for pending entries before they spill to disk. Default 8 MiB. */
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
  /** Most words one bucket may hold before the finder spills. */
  private readonly bucketWords: number;
  private readonly tempParent: string;
  private readonly buckets: Uint32Array[];
  private readonly fill = new Int32Array(PARTITIONS);
  private full = false;
  private spillDir: string | null = null;
  private readonly spills: Spill[] = [];
  /** Keys added so far. */
  size = 0;

  constructor(options: DuplicateFinderOptions = {}) {
    const entries = Math.floor((options.memoryBytes ?? 8 * 1024 * 1024) / (WORDS * 4));
    // Twice the fair share per bucket, so uneven buckets rarely force an early spill.
    this.bucketWords = Math.max(64, Math.ceil((2 * entries) / PARTITIONS)) * WORDS;
    this.tempParent = options.tempDir ?? tmpdir();
    this.buckets = Array.from({ length: PARTITIONS }, () => new Uint32Array(WORDS * 16));
  }

  /** Adds a key fingerprint seen at `line` / `record`. */
  add(hash: Uint32Array, line: number, record: number): void {
    const p = (hash[0] as number) >>> 24;
    let bucket = this.buckets[p] as Uint32Array;
    const at = this.fill[p] as number;
    if (at + WORDS > bucket.length) {
      // Double, but not far past the bucket's share: a spill follows soon after.
      const grown = new Uint32Array(Math.max(at + WORDS, Math.min(bucket.length * 2, this.bucketWords + 64 * WORDS)));
      grown.set(bucket);
      this.buckets[p] = bucket = grown;
    }
    bucket[at] = hash[0] as number;
    bucket[at + 1] = hash[1] as number;
    bucket[at + 2] = hash[2] as number;
    bucket[at + 3] = hash[3] as number;
    bucket[at + 4] = line;
    bucket[at + 5] = record;
    this.fill[p] = at + WORDS;
    if (at + WORDS >= this.bucketWords) this.full = true;
    this.size++;
  }

  /** True when a bucket has reached its share of the budget; call `spill()` soon. */
  get shouldSpill(): boolean {
    return this.full;
  }

  /** Writes every bucket to one spill file and empties them, keeping their memory. */
  async spill(): Promise<void> {
    this.spillDir ??= await mkdtemp(join(this.tempParent, 'atomic-bulk-dups-'));
    const path = join(this.spillDir, `${this.spills.length}.bin`);
    const offsets = new Float64Array(PARTITIONS + 1);
    const handle = await open(path, 'w');
    try {
      let words = 0;
      const views: Uint8Array[] = [];
      for (let p = 0; p < PARTITIONS; p++) {
        offsets[p] = words;
        const used = this.fill[p] as number;
        words += used;
        if (used > 0) views.push(new Uint8Array((this.buckets[p] as Uint32Array).buffer, 0, used * 4));
      }
      offsets[PARTITIONS] = words;
      await handle.writev(views);
    } finally {
      await handle.close();
    }
    this.spills.push({ path, offsets });
    this.fill.fill(0);
    this.full = false;
  }

  /** Every key seen before, with the line of its first occurrence; partition by partition. */
  async *duplicates(): AsyncGenerator<Duplicate> {
    const handles = await Promise.all(this.spills.map((s) => open(s.path, 'r')));
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        const entries = await this.loadPartition(p, handles);
        if (entries.length > WORDS) yield* scanPartition(entries);
      }
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  }

  /** Removes spill files. Safe to call more than once. */
  async close(): Promise<void> {
    this.fill.fill(0);
    if (this.spillDir !== null) {
      await rm(this.spillDir, { recursive: true, force: true });
      this.spillDir = null;
    }
  }

  /** Partition p's entries in input order: each spill's share, then what is in memory. */
  private async loadPartition(p: number, handles: FileHandle[]): Promise<Uint32Array> {
    const memory = (this.buckets[p] as Uint32Array).subarray(0, this.fill[p]);
    if (this.spills.length === 0) return memory;
    let words = memory.length;
    for (const s of this.spills) words += (s.offsets[p + 1] as number) - (s.offsets[p] as number);
    const all = new Uint32Array(words);
    let at = 0;
    for (const [k, s] of this.spills.entries()) {
      const from = s.offsets[p] as number;
      const n = (s.offsets[p + 1] as number) - from;
      if (n === 0) continue;
      const bytes = new Uint8Array(all.buffer, at * 4, n * 4);
      await (handles[k] as FileHandle).read(bytes, 0, n * 4, from * 4);
      at += n;
    }
    all.set(memory, at);
    return all;
  }
}

/** Open-addressing pass over one partition's entries, in input order. */
function* scanPartition(entries: Uint32Array): Generator<Duplicate> {
  const count = entries.length / WORDS;
  let size = 1;
  while (size < count * 2) size <<= 1;
  const mask = size - 1;
  const table = new Int32Array(size).fill(-1);
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
