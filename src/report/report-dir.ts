/**
 * Where report files go: a local directory, or an s3:// prefix. Files are written locally
 * first (to the directory itself, or to a temporary directory for S3) and, for S3,
 * uploaded by `publish()`, so a half-written report never appears at the destination.
 *
 * One report per folder (docs/decisions.md): the default folder name carries a random
 * suffix and is created exclusively, so two runs never share it; an explicit folder is
 * locked for the run (a second process is refused) and the files of a report it already
 * held are removed first, so an old rejected.csv never sits beside a new report.json.
 * Report files hold personal data: folders are created 0700 and files 0600.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  makePrivateDir,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  releasePidLock,
  takePidLock,
  writePrivateFile,
} from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/** Files a report consists of; an explicit folder's earlier ones are removed on open. */
const REPORT_FILES = [
  'report.json',
  'report.md',
  'report.html',
  'rejected.csv',
  'invocations.csv',
  'reconciled.csv',
];
const LOCK_FILE = '.atomic-bulk.lock';

function cannotCreate(location: string, error: unknown): AtomicBulkError {
  return new AtomicBulkError(
    'OUTPUT',
    `Cannot create report directory ${location} (${why(error)}).`,
    { hint: 'Choose another --report-dir.' },
    error,
  );
}

/** Names the cause of a failed write plainly: a full disk, a folder that is read-only. */
function writeFailed(location: string, error: unknown): AtomicBulkError {
  return new AtomicBulkError('OUTPUT', `Cannot write ${location} (${why(error)}).`, {}, error);
}

/** A file-system error in plain words: a full disk, a folder that is not writable. */
export function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'EROFS') return 'the folder is on a read-only file system';
  if (code === 'EACCES' || code === 'EPERM') return 'the folder is not writable';
  return code ?? 'error';
}

export class ReportDir {
  private readonly written = new Set<string>();
  /** Files being streamed: name → their temporary path. */
  private readonly temporary = new Map<string, string>();

  private constructor(
    /** As the user gave it (local path or s3:// prefix). */
    readonly location: string,
    /** Local directory files are written to. */
    readonly localDir: string,
    private readonly s3Prefix: string | null,
    private readonly s3Endpoint: string | undefined,
  ) {}

  /** The default name: ./atomic-bulk-report-<UTC timestamp>-<random>/, never shared by two runs. */
  static defaultLocation(now: Date): string {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    return `atomic-bulk-report-${stamp}-${randomBytes(3).toString('hex')}`;
  }

  /**
   * Opens a report folder. `given` is the user's --report-dir; when absent, a new folder
   * named by `defaultLocation` is created exclusively (another name is drawn if it exists).
   */
  static async open(
    given: string | undefined,
    now: Date,
    options: { s3Endpoint?: string } = {},
  ): Promise<ReportDir> {
    if (given?.startsWith('s3://') === true) {
      const localDir = await mkdtemp(join(tmpdir(), 'atomic-bulk-report-'));
      const prefix = given.endsWith('/') ? given : `${given}/`;
      return new ReportDir(given, localDir, prefix, options.s3Endpoint);
    }
    if (given === undefined) {
      for (;;) {
        const location = ReportDir.defaultLocation(now);
        try {
          await mkdir(resolve(location), { mode: PRIVATE_DIR_MODE });
          await chmod(resolve(location), PRIVATE_DIR_MODE);
          const dir = new ReportDir(location, resolve(location), null, undefined);
          await dir.lock();
          return dir;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
            throw cannotCreate(location, error);
        }
      }
    }
    const localDir = resolve(given);
    try {
      await makePrivateDir(localDir);
    } catch (error) {
      throw cannotCreate(given, error);
    }
    const dir = new ReportDir(given, localDir, null, undefined);
    await dir.lock();
    // The folder may hold an earlier report: remove its files so none is mistaken for this run's.
    await Promise.all(REPORT_FILES.map((name) => rm(join(localDir, name), { force: true })));
    return dir;
  }

  /** True when the report goes to S3 (the local folder is a temporary copy). */
  get isRemote(): boolean {
    return this.s3Prefix !== null;
  }

  /**
   * Opens an existing local report folder to add to it (reconcile, cancel): locked like
   * any report folder, and nothing in it removed.
   */
  static async existing(folder: string): Promise<ReportDir> {
    const dir = new ReportDir(folder, resolve(folder), null, undefined);
    await dir.lock();
    return dir;
  }

  /** Takes the folder for this process; a live holder means another run is writing it. */
  private async lock(): Promise<void> {
    let holder: number | null;
    try {
      holder = await takePidLock(this.localDir, LOCK_FILE);
    } catch (error) {
      throw cannotCreate(this.location, error);
    }
    if (holder !== null) {
      throw new AtomicBulkError(
        'OUTPUT',
        `Report directory ${this.location} is being written by another atomic-bulk (pid ${holder}).`,
        {
          hint: 'Give each run its own --report-dir, or leave it out to get a new folder per run.',
        },
      );
    }
  }

  /** Where a file will be found once published (for messages and the report). */
  locationOf(name: string): string {
    return this.s3Prefix !== null ? `${this.s3Prefix}${name}` : join(this.localDir, name);
  }

  /** Writes a small file atomically (private temporary file, then rename). */
  async write(name: string, content: string): Promise<void> {
    try {
      await writePrivateFile(join(this.localDir, name), content);
    } catch (error) {
      throw writeFailed(this.locationOf(name), error);
    }
    this.written.add(name);
  }

  /**
   * A stream for a large file (rejected.csv, invocations.csv, reconciled.csv), written
   * under a private temporary name and put in place by `commit(name)`: a full disk or a
   * crash leaves the earlier file or none, never a truncated one.
   */
  stream(name: string): WriteStream {
    const temp = join(this.localDir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    this.temporary.set(name, temp);
    // Created exclusively: never written through a link placed at that name.
    return createWriteStream(temp, { mode: PRIVATE_FILE_MODE, flags: 'wx' });
  }

  /** Puts a file written with `stream(name)` in place once it is complete. */
  async commit(name: string): Promise<void> {
    const temp = this.temporary.get(name);
    if (temp === undefined) throw new Error(`${name} was not written with stream()`);
    this.temporary.delete(name);
    try {
      await rename(temp, join(this.localDir, name));
    } catch (error) {
      await rm(temp, { force: true });
      throw writeFailed(this.locationOf(name), error);
    }
    this.written.add(name);
  }

  /** Removes what `stream(name)` wrote when it cannot be completed. */
  async abandon(name: string): Promise<void> {
    const temp = this.temporary.get(name);
    this.temporary.delete(name);
    if (temp !== undefined) await rm(temp, { force: true });
  }

  /** Uploads everything written to the S3 prefix; releases a local folder's lock. */
  async publish(): Promise<void> {
    if (this.s3Prefix === null) {
      await releasePidLock(this.localDir, LOCK_FILE);
      return;
    }
    const { putS3File } = await import('../s3/s3.js');
    // report.json last: a reader that sees it can rely on the other files being there.
    const names = [...this.written].sort(
      (a, b) => Number(a === 'report.json') - Number(b === 'report.json'),
    );
    for (const name of names) {
      const ext = name.split('.').pop() ?? '';
      await putS3File(
        `${this.s3Prefix}${name}`,
        join(this.localDir, name),
        CONTENT_TYPES[ext] ?? 'application/octet-stream',
        {
          endpoint: this.s3Endpoint,
        },
      );
    }
    await rm(this.localDir, { recursive: true, force: true });
  }
}
