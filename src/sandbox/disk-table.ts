/**
 * What the sandbox keeps per row lives on disk, not in memory (decisions.md, "The sandbox
 * keeps a campaign on disk"): an append-only file read back by position, fixed-size
 * records in such a file, and a hash index from 16-byte digests to numbers whose tables
 * stay in memory up to a fixed budget and go to files beyond it. Reads and writes are
 * synchronous and positioned (microseconds each against the page cache), so memory holds
 * write buffers and the index budget whatever the campaign's size.
 *
 * Files are created exclusively (0600) in a private folder the caller owns.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Appends are buffered up to this many bytes before they are written. */
const WRITE_BUFFER_BYTES = 64 * 1024;

function writeAll(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length;) {
    done += writeSync(fd, data, done, data.length - done, position + done);
  }
}

function readAll(fd: number, into: Buffer, length: number, position: number): void {
  for (let done = 0; done < length;) {
    const n = readSync(fd, into, done, length - done, position + done);
    if (n === 0) throw new Error('a sandbox state file is shorter than its records');
    done += n;
  }
}

/** Bytes appended in order, read and overwritten by position. */
export class AppendFile {
  private readonly fd: number;
  private written = 0;
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private buffered = 0;

  constructor(path: string) {
    // 'wx+': created here, never opened through something already at that path.
    this.fd = openSync(path, 'wx+', 0o600);
  }

  get length(): number {
    return this.written + this.buffered;
  }

  /** Appends `data`; returns the position it starts at. */
  append(data: Buffer): number {
    const at = this.length;
    if (this.buffered + data.length > this.buffer.length) this.flush();
    if (data.length > this.buffer.length) {
      writeAll(this.fd, data, this.written);
      this.written += data.length;
    } else {
      data.copy(this.buffer, this.buffered);
      this.buffered += data.length;
    }
    return at;
  }

  read(position: number, length: number, into = Buffer.allocUnsafe(length)): Buffer {
    if (position + length > this.written) this.flush();
    readAll(this.fd, into, length, position);
    return into.subarray(0, length);
  }

  /** Overwrites bytes already appended. */
  overwrite(position: number, data: Buffer): void {
    if (position + data.length > this.written) this.flush();
    writeAll(this.fd, data, position);
  }

  flush(): void {
    if (this.buffered === 0) return;
    writeAll(this.fd, this.buffer.subarray(0, this.buffered), this.written);
    this.written += this.buffered;
    this.buffered = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Records of `size` bytes, numbered from 0 in the order they were added. */
export class RecordFile {
  private readonly file: AppendFile;

  constructor(
    path: string,
    readonly size: number,
  ) {
    this.file = new AppendFile(path);
  }

  get count(): number {
    return this.file.length / this.size;
  }

  add(record: Buffer): number {
    return this.file.append(record) / this.size;
  }

  get(index: number): Buffer {
    return this.file.read(index * this.size, this.size);
  }

  /** Records `from` … `from + count - 1` in one read. */
  range(from: number, count: number): Buffer {
    return this.file.read(from * this.size, count * this.size);
  }

  set(index: number, record: Buffer): void {
    this.file.overwrite(index * this.size, record);
  }

  close(): void {
    this.file.close();
  }
}

export const DIGEST_BYTES = 16;
const SLOT_BYTES = DIGEST_BYTES + 4;
const PARTITIONS = 256;
const INITIAL_SLOTS = 1024;
/** Slots read per probe. */
const PROBE_SLOTS = 64;

/** Bytes of index tables kept in memory, shared by all partitions of one index. */
export interface MemoryBudget {
  limit: number;
  used: number;
}

/** A memory budget for indexes, shared by those given the same one. */
export function memoryBudget(bytes = DEFAULT_INDEX_MEMORY_BYTES): MemoryBudget {
  return { limit: bytes, used: 0 };
}

/**
 * One partition of the index: an open-addressing table of (digest, value + 1) slots, in
 * memory while the index's budget allows, in a file after.
 */
class Partition {
  private memory: Buffer | null = null;
  private fd = -1;
  private slots = 0;
  private used = 0;
  private generation = 0;
  private readonly window = Buffer.allocUnsafe(PROBE_SLOTS * SLOT_BYTES);
  private readonly slot = Buffer.allocUnsafe(SLOT_BYTES);

  constructor(
    private readonly path: string,
    private readonly budget: MemoryBudget,
  ) {}

  get(digest: Buffer): number {
    if (this.slots === 0) return -1;
    return this.find(digest).value;
  }

  /** One lookup, then the value `next` gives for the old one (-1: none) is stored, unless null. */
  update(digest: Buffer, next: (old: number) => number | null): void {
    if ((this.used + 1) * 10 > this.slots * 6) this.grow(Math.max(INITIAL_SLOTS, this.slots * 2));
    const at = this.find(digest);
    const value = next(at.value);
    if (value === null) return;
    const slot = this.slot;
    digest.copy(slot, 0, 0, DIGEST_BYTES);
    slot.writeUInt32LE(value + 1, DIGEST_BYTES);
    if (this.memory !== null) slot.copy(this.memory, at.slot * SLOT_BYTES);
    else writeAll(this.fd, slot, at.slot * SLOT_BYTES);
    if (at.value < 0) this.used++;
  }

  /** `count` slots from `slot`, from memory or in one read. */
  private slotsAt(slot: number, count: number): Buffer {
    if (this.memory !== null)
      return this.memory.subarray(slot * SLOT_BYTES, (slot + count) * SLOT_BYTES);
    readAll(this.fd, this.window, count * SLOT_BYTES, slot * SLOT_BYTES);
    return this.window;
  }

  /** The slot holding `digest`, or the empty slot where it would go. */
  private find(digest: Buffer): { slot: number; value: number } {
    let slot = digest.readUInt32LE(4) % this.slots;
    for (let probed = 0; probed < this.slots;) {
      const count = Math.min(PROBE_SLOTS, this.slots - slot);
      const window = this.slotsAt(slot, count);
      for (let i = 0; i < count; i++, probed++) {
        const base = i * SLOT_BYTES;
        const stored = window.readUInt32LE(base + DIGEST_BYTES);
        if (stored === 0) return { slot: slot + i, value: -1 };
        if (window.compare(digest, 0, DIGEST_BYTES, base, base + DIGEST_BYTES) === 0)
          return { slot: slot + i, value: stored - 1 };
      }
      slot = (slot + count) % this.slots;
    }
    throw new Error('a sandbox index partition is full');
  }

  /** The whole table (a copy read from the file when it is there). */
  private table(): Buffer {
    if (this.memory !== null) return this.memory;
    const old = Buffer.allocUnsafe(this.slots * SLOT_BYTES);
    if (this.fd >= 0) readAll(this.fd, old, old.length, 0);
    return old;
  }

  /**
   * Moves every entry to a table of `slots` slots, built in memory (one partition's worth),
   * then kept there if the budget allows, else written to a new file.
   */
  private grow(slots: number): void {
    const table = Buffer.alloc(slots * SLOT_BYTES);
    if (this.slots > 0) {
      const old = this.table();
      for (let base = 0; base < old.length; base += SLOT_BYTES) {
        if (old.readUInt32LE(base + DIGEST_BYTES) === 0) continue;
        let slot = old.readUInt32LE(base + 4) % slots;
        while (table.readUInt32LE(slot * SLOT_BYTES + DIGEST_BYTES) !== 0)
          slot = (slot + 1) % slots;
        old.copy(table, slot * SLOT_BYTES, base, base + SLOT_BYTES);
      }
    }
    this.release();
    this.slots = slots;
    if (this.budget.used + table.length <= this.budget.limit) {
      this.budget.used += table.length;
      this.memory = table;
      return;
    }
    this.generation++;
    this.fd = openSync(`${this.path}.${this.generation}`, 'wx+', 0o600);
    writeAll(this.fd, table, 0);
  }

  /** Lets go of the current table, in memory or on disk. */
  private release(): void {
    if (this.memory !== null) {
      this.budget.used -= this.memory.length;
      this.memory = null;
    }
    if (this.fd >= 0) {
      closeSync(this.fd);
      unlinkSync(`${this.path}.${this.generation}`);
      this.fd = -1;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.memory !== null) this.budget.used -= this.memory.length;
    this.memory = null;
  }
}

/** Index tables kept in memory by default before partitions move to disk. */
export const DEFAULT_INDEX_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * A map from 16-byte digests (of ids) to whole numbers: 256 partitions, each an
 * open-addressing table that doubles when 60 % full, so growing never moves more than one
 * partition at a time. Tables stay in memory up to `memoryBytes` in all (64 MiB holds
 * about a million ids), then further growth goes to files: a lookup is then one read.
 */
export class DiskIndex {
  private readonly partitions: Partition[] = [];

  /** Files `<name>-<partition>.<generation>` in `dir`; tables in memory within `budget`. */
  constructor(dir: string, budget: MemoryBudget = memoryBudget(), name = 'index') {
    for (let p = 0; p < PARTITIONS; p++)
      this.partitions.push(new Partition(join(dir, `${name}-${p}`), budget));
  }

  /** The value stored for `digest`, or -1. */
  get(digest: Buffer): number {
    return (this.partitions[digest[0] as number] as Partition).get(digest);
  }

  /**
   * Looks `digest` up once and stores what `next` makes of its value (-1 when it has none);
   * `next` returning null leaves it as it was. `next` must not use this index.
   */
  update(digest: Buffer, next: (old: number) => number | null): void {
    (this.partitions[digest[0] as number] as Partition).update(digest, next);
  }

  close(): void {
    for (const p of this.partitions) p.close();
  }
}
