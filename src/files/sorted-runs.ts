/**
 * Fixed-width binary records sorted by their leading bytes, on disk when they do not fit
 * in memory: the campaign ledger's segments, a run's (key, record) pairs and its
 * per-record decisions are all such files. An `ExternalSorter` sorts chunks of at most
 * `chunkRecords` in memory and writes each as a sorted run; `merge` reads any number of
 * sorted sources back as one sorted stream, a block at a time, so memory stays at one
 * chunk plus one read buffer per source whatever the number of records.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AtomicBulkError } from '../model/errors.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

/** A sorted source read a block at a time: `buf[pos, pos+width)` is the current record. */
export interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
  /** Loads the next block; false at the end. */
  fill(): Promise<boolean>;
  close(): Promise<void>;
}

/** Default records per in-memory chunk (4–6 MiB at this tool's record widths). */
export const CHUNK_RECORDS = 1 << 18;
const READ_BYTES = 256 * 1024;
/**
 * Read buffers of one merge of a sorter's runs together: a sorter of many runs (10 M
 * records make about 80) reads each a smaller block rather than 256 KiB each.
 */
const MERGE_READ_BYTES = 4 * 1024 * 1024;
const MIN_READ_BYTES = 32 * 1024;

/** Reads a file of `width`-byte records; checks its size and SHA-256 when they are known. */
export class FileCursor implements Cursor {
  buf: Buffer;
  pos = 0;
  end = 0;
  private handle: FileHandle | null = null;
  private readonly hash: Hash | null;
  private bytes = 0;

  constructor(
    private readonly path: string,
    private readonly width: number,
    private readonly expect?: { sha256: string; entries: number; what: string },
    readBytes = READ_BYTES,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(1, Math.floor(readBytes / width)) * width);
    this.hash = expect === undefined ? null : createHash('sha256');
  }

  async fill(): Promise<boolean> {
    this.handle ??= await open(this.path, 'r');
    let n = 0;
    while (n < this.buf.length) {
      const { bytesRead } = await this.handle.read(this.buf, n, this.buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    this.hash?.update(this.buf.subarray(0, n));
    this.bytes += n;
    if (n % this.width !== 0) this.corrupt('its size is not a whole number of entries');
    this.pos = 0;
    this.end = n;
    if (n === 0) this.checkEnd();
    return n > 0;
  }

  private checkEnd(): void {
    const expect = this.expect;
    if (expect === undefined || this.hash === null) return;
    if (this.bytes !== expect.entries * this.width) this.corrupt('its size changed');
    if (this.hash.digest('hex') !== expect.sha256) this.corrupt('its digest does not match');
  }

  private corrupt(why: string): never {
    throw new AtomicBulkError(
      'STATE',
      `${this.expect?.what ?? 'A sorted file'} is not as it was written (${why}).`,
      {
        hint: 'Something changed the campaign ledger outside atomic-bulk; restore it from a backup, or start a new campaign name.',
      },
    );
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
  }
}

/** A sorted buffer read as a source. */
export class BufferCursor implements Cursor {
  pos = 0;
  end = 0;
  private done = false;
  constructor(public buf: Buffer) {}
  fill(): Promise<boolean> {
    if (this.done) return Promise.resolve(false);
    this.done = true;
    this.pos = 0;
    this.end = this.buf.length;
    return Promise.resolve(this.end > 0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Writes records to a private file through a buffer; counts them and hashes them. */
export class RecordWriter {
  private handle: FileHandle | null = null;
  private buf: Buffer;
  private used = 0;
  private readonly hash = createHash('sha256');
  private writing: Promise<void> = Promise.resolve();
  private readonly spare: Buffer[] = [];
  entries = 0;

  constructor(
    readonly path: string,
    private readonly width: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.floor(READ_BYTES / width) * width);
  }

  /** Appends `width` bytes of `src` from `at`. */
  async add(src: Buffer, at: number): Promise<void> {
    if (this.used + this.width > this.buf.length) await this.flush();
    copyRecordBytes(src, at, this.buf, this.used, this.width);
    this.used += this.width;
    this.entries++;
  }

  /** True when `add` would not have to wait (callers batch their awaits). */
  get roomy(): boolean {
    return this.used + this.width <= this.buf.length;
  }

  /** Appends without flushing; only when `roomy`. */
  push(src: Buffer, at: number): void {
    copyRecordBytes(src, at, this.buf, this.used, this.width);
    this.used += this.width;
    this.entries++;
  }

  /**
   * Writes what is buffered. Safe to call while records are still being pushed: the
   * bytes are taken at once and writes are chained, so they land in order.
   */
  flush(): Promise<void> {
    const full = this.buf;
    const n = this.used;
    if (n > 0) {
      // The buffer goes to the write; pushing goes on into a spare one (back when written).
      this.buf = this.spare.pop() ?? Buffer.allocUnsafe(full.length);
      this.used = 0;
    }
    this.writing = this.writing.then(async () => {
      this.handle ??= await open(this.path, 'wx', PRIVATE_FILE_MODE);
      if (n === 0) return;
      const bytes = full.subarray(0, n);
      this.hash.update(bytes);
      await this.handle.write(bytes, 0, n, null);
      if (this.spare.length < 2) this.spare.push(full);
    });
    return this.writing;
  }

  /** Flushes, syncs and closes; returns the file's SHA-256. */
  async close(sync = false): Promise<string> {
    await this.flush();
    if (sync) await this.handle?.sync();
    await this.handle?.close();
    this.handle = null;
    return this.hash.digest('hex');
  }

  async discard(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
    await rm(this.path, { force: true });
  }
}

/**
 * Compares the leading `n` bytes of two records. A loop: records are short and differ
 * early, where a native call would cost more than the comparison.
 */
// eslint-disable-next-line max-params -- hot loop: memcmp of two records in place, per comparison of every sort and merge
export function compare(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): number {
  for (let k = 0; k < n; k++) {
    const d = (a[ai + k] as number) - (b[bi + k] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** Copies `n` bytes (a record) from src[s] to dst[d], in a loop for the same reason. */
// eslint-disable-next-line max-params -- hot loop: memcpy of a record in place, per record of every sort and merge
export function copyRecordBytes(
  src: Uint8Array,
  s: number,
  dst: Uint8Array,
  d: number,
  n: number,
): void {
  for (let k = 0; k < n; k++) dst[d + k] = src[s + k] as number;
}

/**
 * Sorts records added one by one: in memory up to `chunkRecords`, then as sorted runs in
 * `dir`; `sources()` hands back cursors for `merge`.
 */
export class ExternalSorter {
  private chunk: Buffer;
  private count = 0;
  private readonly runs: string[] = [];
  private scratch: { keys: Float64Array; order: Uint32Array } | null = null;
  private spillCursor: OrderedCursor | null = null;
  entries = 0;

  constructor(
    private readonly dir: string,
    private readonly width: number,
    /** Bytes that decide the order (a prefix of the record). */
    private readonly keyBytes = width,
    private readonly chunkRecords = CHUNK_RECORDS,
  ) {
    this.chunk = Buffer.allocUnsafe(Math.min(chunkRecords, 4096) * width);
  }

  /** Adds a copy of `src[at, at+width)`. */
  async add(src: Buffer, at: number): Promise<void> {
    if (this.count === this.chunkRecords) await this.spill();
    if ((this.count + 1) * this.width > this.chunk.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.chunkRecords, this.count * 2) * this.width);
      this.chunk.copy(grown, 0, 0, this.count * this.width);
      this.chunk = grown;
    }
    copyRecordBytes(src, at, this.chunk, this.count * this.width, this.width);
    this.count++;
    this.entries++;
  }

  /** True when `add` would not spill (lets hot loops avoid an await per record). */
  get roomy(): boolean {
    return this.count < this.chunkRecords && (this.count + 1) * this.width <= this.chunk.length;
  }

  /** Adds without the spill check; only when `roomy`. */
  push(src: Buffer, at: number): void {
    copyRecordBytes(src, at, this.chunk, this.count * this.width, this.width);
    this.count++;
    this.entries++;
  }

  /** Writes the chunk in sorted order, a block at a time (no sorted copy of the chunk). */
  private async spill(): Promise<void> {
    if (this.count === 0) return;
    // The sort's arrays and the write buffer are the sorter's own, reused by every spill:
    // allocating them per chunk leaves tens of MiB for the collector to find late.
    this.scratch ??= {
      keys: new Float64Array(this.chunkRecords),
      order: new Uint32Array(this.chunkRecords),
    };
    const order = sortOrder(this.chunk, this.count, this.width, this.keyBytes, this.scratch);
    this.spillCursor ??= new OrderedCursor(this.chunk, order, this.count, this.width);
    const cursor = this.spillCursor.reset(this.chunk, order, this.count);
    const path = join(this.dir, `run-${randomBytes(6).toString('hex')}.bin`);
    const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
    try {
      while (await cursor.fill()) await handle.write(cursor.buf, 0, cursor.end, null);
    } finally {
      await handle.close();
    }
    this.runs.push(path);
    this.count = 0;
  }

  /** The sorted runs as cursors (the last chunk stays in memory when nothing spilled). */
  async sources(): Promise<Cursor[]> {
    if (this.runs.length === 0) {
      const order = sortOrder(this.chunk, this.count, this.width, this.keyBytes);
      return [new OrderedCursor(this.chunk, order, this.count, this.width)];
    }
    await this.spill();
    // The chunk's memory goes back now, not when the sorter is dropped.
    this.chunk = Buffer.alloc(0);
    this.scratch = null;
    this.spillCursor = null;
    return runCursors(this.runs, this.width);
  }

  /**
   * Writes what is left to disk and hands the sorted runs over: the caller owns the files
   * from now on (the sorter forgets them).
   */
  async seal(): Promise<string[]> {
    await this.spill();
    this.chunk = Buffer.alloc(0);
    this.scratch = null;
    this.spillCursor = null;
    return this.runs.splice(0);
  }

  /** Removes the sorted runs. */
  async dispose(): Promise<void> {
    for (const path of this.runs) await rm(path, { force: true });
    this.runs.length = 0;
    this.chunk = Buffer.alloc(0);
    this.scratch = null;
    this.spillCursor = null;
  }
}

/** Sorted run files as cursors, their read buffers sized so that all of them read 4 MiB at a time. */
export function runCursors(paths: readonly string[], width: number): Cursor[] {
  const readBytes = Math.min(
    READ_BYTES,
    Math.max(MIN_READ_BYTES, Math.floor(MERGE_READ_BYTES / Math.max(1, paths.length))),
  );
  return paths.map((path) => new FileCursor(path, width, undefined, readBytes));
}

/**
 * The order of `count` records of `buf` by their first `keyBytes` bytes: a numeric sort on
 * the first four bytes (with the index packed below them, so one native Float64Array sort
 * does it), then the rare ties by a full comparison.
 */
// eslint-disable-next-line max-params -- hot loop: the comparator of an in-memory run sort
export function sortOrder(
  buf: Buffer,
  count: number,
  width: number,
  keyBytes: number,
  scratch?: { keys: Float64Array; order: Uint32Array },
): Uint32Array {
  if (count > 1 << 21) throw new Error('sortOrder: chunk too large');
  const keys =
    scratch !== undefined && scratch.keys.length >= count
      ? scratch.keys.subarray(0, count)
      : new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = buf.readUInt32BE(i * width) * 2 ** 21 + i;
  keys.sort();
  const order =
    scratch !== undefined && scratch.order.length >= count
      ? scratch.order.subarray(0, count)
      : new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = (keys[i] as number) % 2 ** 21;
  for (let i = 0; i < count;) {
    let j = i + 1;
    const top = buf.readUInt32BE((order[i] as number) * width);
    while (j < count && buf.readUInt32BE((order[j] as number) * width) === top) j++;
    if (j - i > 1) {
      const group = Array.from(order.subarray(i, j));
      group.sort((a, b) => compare(buf, a * width, buf, b * width, keyBytes) || a - b);
      order.set(group, i);
    }
    i = j;
  }
  return order;
}

/** Sorts `count` records of `buf` into a new buffer (tests; the sorter streams instead). */
export function sortRecords(buf: Buffer, count: number, width: number, keyBytes: number): Buffer {
  const order = sortOrder(buf, count, width, keyBytes);
  const out = Buffer.allocUnsafe(count * width);
  for (let i = 0; i < count; i++)
    copyRecordBytes(buf, (order[i] as number) * width, out, i * width, width);
  return out;
}

/** A chunk read in a sorted order, a block at a time. */
class OrderedCursor implements Cursor {
  buf: Buffer;
  pos = 0;
  end = 0;
  private next = 0;

  constructor(
    private chunk: Buffer,
    private order: Uint32Array,
    private count: number,
    private readonly width: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.floor(READ_BYTES / width) * width);
  }

  /** The same cursor (and buffer) over another chunk. */
  reset(chunk: Buffer, order: Uint32Array, count: number): this {
    this.chunk = chunk;
    this.order = order;
    this.count = count;
    this.next = 0;
    return this;
  }

  fill(): Promise<boolean> {
    let o = 0;
    const w = this.width;
    while (this.next < this.count && o + w <= this.buf.length) {
      copyRecordBytes(this.chunk, (this.order[this.next++] as number) * w, this.buf, o, w);
      o += w;
    }
    this.pos = 0;
    this.end = o;
    return Promise.resolve(o > 0);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Sorted sources read as one sorted cursor, a block at a time: a k-way merge (a binary
 * heap over the sources' current records). Equal keys keep the order of their sources.
 */
export class MergedCursor implements Cursor {
  buf: Buffer;
  pos = 0;
  end = 0;
  private heap: { c: Cursor; n: number }[] = [];
  private started = false;

  constructor(
    private readonly sources: Cursor[],
    private readonly width: number,
    private readonly keyBytes = width,
  ) {
    this.buf = Buffer.allocUnsafe(Math.floor(READ_BYTES / width) * width);
  }

  private less(x: { c: Cursor; n: number }, y: { c: Cursor; n: number }): boolean {
    const d = compare(x.c.buf, x.c.pos, y.c.buf, y.c.pos, this.keyBytes);
    return d < 0 || (d === 0 && x.n < y.n);
  }

  private down(start: number): void {
    const heap = this.heap;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  }

  async fill(): Promise<boolean> {
    const heap = this.heap;
    if (!this.started) {
      this.started = true;
      for (let n = 0; n < this.sources.length; n++) {
        const c = this.sources[n] as Cursor;
        if (await c.fill()) heap.push({ c, n });
      }
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.down(i);
    }
    let o = 0;
    while (heap.length > 0 && o < this.buf.length) {
      const c = heap[0]!.c;
      copyRecordBytes(c.buf, c.pos, this.buf, o, this.width);
      o += this.width;
      c.pos += this.width;
      if (c.pos >= c.end && !(await c.fill())) {
        const last = heap.pop()!;
        if (heap.length === 0) break;
        heap[0] = last;
      }
      this.down(0);
    }
    this.pos = 0;
    this.end = o;
    return o > 0;
  }

  async close(): Promise<void> {
    for (const c of this.sources) await c.close();
  }
}

/** Calls `each(buf, at)` for every record of a cursor, in order, then closes it. */
export async function forEach(
  cursor: Cursor,
  width: number,
  each: (buf: Buffer, at: number) => void | Promise<void>,
): Promise<void> {
  try {
    while (await cursor.fill()) {
      for (let at = cursor.pos; at < cursor.end; at += width) {
        const pending = each(cursor.buf, at);
        if (pending !== undefined) await pending;
      }
    }
  } finally {
    await cursor.close();
  }
}
