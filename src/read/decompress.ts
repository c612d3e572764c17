/**
 * Compressed inputs, recognised by their first bytes, never by their name: gzip (what
 * Snowflake, BigQuery, Redshift and Spark write by default; concatenated members too) is
 * decompressed as it streams; other formats a warehouse may write and Node 20 cannot read
 * (zstd, bzip2, xz, zip) are refused with what to do. Everything downstream — the run id
 * (a hash of the decompressed bytes), line numbers, issues — sees the CSV itself, so the
 * same campaign compressed or not is the same run.
 */
import { createGunzip } from 'node:zlib';
import { AtomicBulkError } from '../model/errors.js';
import { LineMap } from '../model/line-map.js';
import type { ByteSource, InputSource } from './source.js';

export type Compression = 'gzip';

const FORMATS: { name: string; magic: number[]; tool: string }[] = [
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], tool: 'zstd -d' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], tool: 'bunzip2' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], tool: 'xz -d' },
  { name: 'zip', magic: [0x50, 0x4b, 0x03, 0x04], tool: 'unzip' },
];

const startsWith = (head: Buffer, magic: number[]) => magic.every((b, i) => head[i] === b);

/** An input that is decompressed on every pass when it is gzip. */
export class DecompressingInput implements InputSource, ByteSource {
  /** Known after the first pass started. */
  compression: Compression | null | undefined = undefined;
  readonly files = null;
  readonly lines = new LineMap();

  constructor(private readonly inner: ByteSource) {}

  get name(): string {
    return this.inner.name;
  }

  /** The compressed size says nothing of progress through the CSV: unknown when compressed. */
  get size(): number | null {
    return this.compression === 'gzip' ? null : this.inner.size;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async *read(): AsyncGenerator<Buffer> {
    const it = this.inner.read()[Symbol.asyncIterator]();
    // However this read ends — read to the end, failed, or left early by its consumer —
    // the file under it is closed now, not when a collector finds its handle.
    try {
      yield* this.readFrom(it);
    } finally {
      await it.return?.();
    }
  }

  private async *readFrom(it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
    // The first bytes decide; chunks are reused buffers, so what is kept is copied.
    const held: Buffer[] = [];
    let heldBytes = 0;
    let ended = false;
    while (heldBytes < 6) {
      const next = await it.next();
      if (next.done === true) {
        ended = true;
        break;
      }
      held.push(Buffer.from(next.value));
      heldBytes += next.value.length;
    }
    const head = Buffer.concat(held);
    const foreign = FORMATS.find((f) => startsWith(head, f.magic));
    if (foreign !== undefined) {
      throw new AtomicBulkError(
        'INPUT',
        `Input ${this.name} is compressed with ${foreign.name}, which atomic-bulk cannot read.`,
        {
          hint: `Decompress it first (${foreign.tool}), or export it as plain or gzip-compressed CSV.`,
        },
      );
    }
    this.compression = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? 'gzip' : null;
    const rest = async function* (): AsyncGenerator<Buffer> {
      if (head.length > 0) yield head;
      if (ended) return;
      for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
    };
    if (this.compression === null) {
      yield* rest();
      return;
    }
    yield* gunzip(rest(), this.name);
  }
}

/** Streams `source` through gunzip; a corrupt or truncated stream is a located INPUT error. */
async function* gunzip(source: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  const inflate = createGunzip();
  let lines = 0;
  let bytes = 0;
  // A write's callback never comes once the stream failed or was destroyed.
  const closed = new Promise<void>((resolve) => inflate.once('close', () => resolve()));
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        // Wait until zlib has taken the chunk: the reader reuses its buffers.
        await Promise.race([
          new Promise<void>((resolve, reject) =>
            inflate.write(chunk, (error) => (error ? reject(error) : resolve())),
          ),
          closed,
        ]);
        if (inflate.destroyed) return;
      }
      inflate.end();
    } catch (error) {
      inflate.destroy(error as Error);
    }
  })();
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lines++;
      yield chunk;
    }
  } catch (error) {
    if (error instanceof AtomicBulkError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new AtomicBulkError(
      'INPUT',
      `Input ${name} is not a valid gzip stream: ${code === 'Z_BUF_ERROR' ? 'it ends early' : 'its data is corrupt'}, after line ${lines + 1} (${bytes.toLocaleString('en-US')} bytes of CSV).`,
      {
        hint: 'Export or download the file again; a transfer that stopped half-way leaves a truncated file.',
      },
      error,
    );
  } finally {
    inflate.destroy();
    await feeding;
  }
}
