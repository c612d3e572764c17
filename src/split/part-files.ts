/**
 * Writes parts as files in a directory: `part-0001.csv`, … Each is written under a
 * random temporary name, created exclusively and private (0600: parts hold personal
 * data), and renamed when complete, so a reader never sees a partial part.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../files/private-files.js';
import { join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import { partFileName } from '../model/part.js';
import type { PartOutput, PartSink } from './splitter.js';

export { partFileName };

export class PartFiles implements PartSink {
  constructor(
    private readonly dir: string,
    /** Also write each part's `line,flowInvocationId` pairs next to it. */
    private readonly withIds: boolean,
  ) {}

  async create(number: number): Promise<PartOutput> {
    const path = join(this.dir, partFileName(number));
    const idsPath = this.withIds ? path.replace(/\.csv$/, '.ids.csv') : null;
    const suffix = `.${randomBytes(6).toString('hex')}.tmp`;
    const data = await openForWrite(`${path}${suffix}`);
    const ids = idsPath === null ? null : await openForWrite(`${idsPath}${suffix}`);
    const idsHash = createHash('sha256');
    return {
      write: async (bytes) => {
        await writeAll(data, bytes, path);
      },
      writeIds: async (bytes) => {
        if (ids === null) return;
        idsHash.update(bytes);
        await writeAll(ids, bytes, idsPath as string);
      },
      close: async () => {
        await data.close();
        await ids?.close();
        await rename(`${path}${suffix}`, path);
        if (idsPath !== null) await rename(`${idsPath}${suffix}`, idsPath);
        return { path, idsPath, idsSha256: ids === null ? null : idsHash.digest('hex') };
      },
      discard: async () => {
        await data.close().catch(() => undefined);
        await ids?.close().catch(() => undefined);
        await rm(`${path}${suffix}`, { force: true });
        if (idsPath !== null) await rm(`${idsPath}${suffix}`, { force: true });
      },
    };
  }
}

async function openForWrite(path: string): Promise<FileHandle> {
  try {
    // 'wx': never through a file or link someone placed at this name.
    return await open(path, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    throw new AtomicBulkError(
      'OUTPUT',
      `Cannot create ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {},
      error,
    );
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, path: string): Promise<void> {
  try {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AtomicBulkError(
      'OUTPUT',
      `Cannot write ${path} (${code === 'ENOSPC' ? 'disk full' : (code ?? 'error')}).`,
      {
        hint:
          code === 'ENOSPC' ? 'Free disk space: parts need about as much room as the input.' : '',
      },
      error,
    );
  }
}

/**
 * Parts that are measured, not kept: a dry run reports every part's size, rows and SHA-256
 * (the splitter computes them) without writing 32 MB files only to delete them.
 */
export class DiscardedParts implements PartSink {
  create(): Promise<PartOutput> {
    return Promise.resolve({
      write: () => Promise.resolve(),
      writeIds: () => Promise.resolve(),
      close: () => Promise.resolve({ path: '', idsPath: null, idsSha256: null }),
      discard: () => Promise.resolve(),
    });
  }
}
