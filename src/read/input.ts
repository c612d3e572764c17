/**
 * Input sources: a file path, `-` for standard input, or `s3://bucket/key`. Every source
 * can be read more than once (validation reads it, then sending reads it again): a file
 * is re-opened and checked to be unchanged; standard input and S3 objects are copied to
 * a spool file on the first pass, which later passes read.
 *
 * Chunks are read into one reused 1 MiB buffer: a chunk is valid until the next one is
 * requested. The tokenizer copies what it keeps, so no chunk garbage piles up.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { makeOwnedTempDir, removeOwnedTempDir } from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import { shellWord } from '../model/shell-word.js';
import { DecompressingInput } from './decompress.js';
import { resolveInputs } from './input-files.js';
import { MultiInput } from './multi-input.js';
import type { ByteSource, InputSource } from './source.js';

export const READ_CHUNK_BYTES = 1 << 20;

export type { ByteSource, InputSource } from './source.js';

/**
 * Opens the input named on the command line: one source, or several files read as one
 * campaign (read/input-files.ts, read/multi-input.ts). Gzip is decompressed as it is read.
 */
export async function openInput(
  spec: string | readonly string[],
  options: { tempDir?: string; s3Endpoint?: string } = {},
): Promise<InputSource> {
  const specs = typeof spec === 'string' ? [spec] : spec;
  const { files, multi } = await resolveInputs(specs, options);
  if (!multi) return new DecompressingInput(await openRaw(files[0] as string, options));
  return new MultiInput(
    specs.map(shellWord).join(' '),
    files.map((name) => ({ name, open: () => openRaw(name, options) })),
  );
}

async function openRaw(
  name: string,
  options: { tempDir?: string; s3Endpoint?: string },
): Promise<ByteSource> {
  if (name === '-') return new SpooledInput('-', null, () => process.stdin, options.tempDir);
  if (name.startsWith('s3://')) {
    const { openS3Object } = await import('../s3/s3.js');
    const object = await openS3Object(name, { endpoint: options.s3Endpoint });
    return new SpooledInput(name, object.size, object.body, options.tempDir);
  }
  return FileInput.open(name);
}

interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

class FileInput implements ByteSource {
  private constructor(
    readonly name: string,
    private readonly identity: FileIdentity,
  ) {}

  get size(): number {
    return this.identity.size;
  }

  static async open(path: string): Promise<FileInput> {
    try {
      const s = await stat(path);
      if (s.isDirectory())
        throw new AtomicBulkError('INPUT', `Input ${path} is a directory, not a CSV file.`);
      return new FileInput(path, { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino });
    } catch (error) {
      if (error instanceof AtomicBulkError) throw error;
      throw inputError(path, error);
    }
  }

  async *read(): AsyncGenerator<Buffer> {
    await this.assertUnchanged();
    yield* readFileChunks(this.name);
    await this.assertUnchanged();
  }

  async close(): Promise<void> {
    // Nothing to clean up for a file the user owns.
  }

  /** A second pass must see the bytes the first pass validated. */
  private async assertUnchanged(): Promise<void> {
    const s = await stat(this.name).catch((error: unknown) => {
      throw inputError(this.name, error);
    });
    if (
      s.size !== this.identity.size ||
      s.mtimeMs !== this.identity.mtimeMs ||
      s.ino !== this.identity.ino
    ) {
      throw new AtomicBulkError(
        'INPUT',
        `Input ${this.name} changed while atomic-bulk was reading it.`,
        {
          hint: 'Wait until the file is completely written, then run again.',
        },
      );
    }
  }
}

/**
 * Reads a file in 1 MiB chunks into two buffers used in turn: the next chunk is read
 * while the current one is processed. The reader copies what it keeps before it asks
 * for the next chunk, so each buffer is free again by the time it is reused.
 */
export async function* readFileChunks(path: string): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw inputError(path, error);
  });
  const buffers = [Buffer.allocUnsafe(READ_CHUNK_BYTES), Buffer.allocUnsafe(READ_CHUNK_BYTES)];
  let turn = 0;
  const read = (buf: Buffer) => handle.read(buf, 0, buf.length, null);
  let pending = read(buffers[0] as Buffer);
  try {
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      turn ^= 1;
      pending = read(buffers[turn] as Buffer);
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => undefined);
    await handle.close();
  }
}

/** A one-shot stream made replayable by copying it to a spool file on the first pass. */
class SpooledInput implements ByteSource {
  private spoolDir: string | null = null;
  private spoolPath: string | null = null;
  private consumed = false;

  constructor(
    readonly name: string,
    readonly size: number | null,
    private readonly stream: () => AsyncIterable<Uint8Array>,
    private readonly tempDir: string | undefined,
  ) {}

  async *read(): AsyncGenerator<Buffer> {
    if (this.spoolPath !== null) {
      yield* readFileChunks(this.spoolPath);
      return;
    }
    if (this.consumed) {
      throw new AtomicBulkError(
        'INPUT',
        `Input ${this.name} was read only partly and cannot be read again.`,
      );
    }
    this.consumed = true;
    this.spoolDir = await makeOwnedTempDir('input', this.tempDir);
    const path = join(this.spoolDir, 'input.csv');
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    try {
      for await (const raw of this.stream()) {
        const chunk = Buffer.isBuffer(raw)
          ? raw
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        if (!out.write(chunk)) await once(out, 'drain');
        yield chunk;
      }
      await closeStream(out);
      this.spoolPath = path;
    } catch (error) {
      out.destroy();
      if (error instanceof AtomicBulkError) throw error;
      throw inputError(this.name, error);
    }
  }

  async close(): Promise<void> {
    if (this.spoolDir !== null) await removeOwnedTempDir(this.spoolDir);
    this.spoolDir = null;
    this.spoolPath = null;
  }
}

function closeStream(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.end((error?: Error | null) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

function inputError(name: string, error: unknown): AtomicBulkError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'cannot be read (permission denied)'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? (error instanceof Error ? error.message : String(error))})`;
  return new AtomicBulkError(
    'INPUT',
    `Input ${name} ${why}.`,
    { hint: 'Check the path and try again.' },
    error,
  );
}
