/**
 * Where report files go: a local directory, or an s3:// prefix. Files are written locally
 * first (to the directory itself, or to a temporary directory for S3) and, for S3,
 * uploaded by `publish()`, so a half-written report never appears at the destination.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

export class ReportDir {
  private readonly written = new Set<string>();

  private constructor(
    /** As the user gave it (local path or s3:// prefix). */
    readonly location: string,
    /** Local directory files are written to. */
    readonly localDir: string,
    private readonly s3Prefix: string | null,
    private readonly s3Endpoint: string | undefined,
  ) {}

  /** The default name: ./atomic-bulk-report-<UTC timestamp>/. */
  static defaultLocation(now: Date): string {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    return `atomic-bulk-report-${stamp}`;
  }

  static async open(location: string, options: { s3Endpoint?: string } = {}): Promise<ReportDir> {
    if (location.startsWith('s3://')) {
      const localDir = await mkdtemp(join(tmpdir(), 'atomic-bulk-report-'));
      const prefix = location.endsWith('/') ? location : `${location}/`;
      return new ReportDir(location, localDir, prefix, options.s3Endpoint);
    }
    const localDir = resolve(location);
    try {
      await mkdir(localDir, { recursive: true });
    } catch (error) {
      throw new AtomicBulkError(
        'OUTPUT',
        `Cannot create report directory ${location} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
        { hint: 'Choose another --report-dir.' },
        error,
      );
    }
    return new ReportDir(location, localDir, null, undefined);
  }

  /** Where a file will be found once published (for messages and the report). */
  locationOf(name: string): string {
    return this.s3Prefix !== null ? `${this.s3Prefix}${name}` : join(this.localDir, name);
  }

  /** Writes a small file atomically (temporary name, then rename). */
  async write(name: string, content: string): Promise<void> {
    const path = join(this.localDir, name);
    try {
      await writeFile(`${path}.tmp`, content);
      await rename(`${path}.tmp`, path);
    } catch (error) {
      throw new AtomicBulkError('OUTPUT', `Cannot write ${this.locationOf(name)}.`, {}, error);
    }
    this.written.add(name);
  }

  /** A stream for a large file (rejected.csv, invocations.csv). */
  stream(name: string): WriteStream {
    this.written.add(name);
    return createWriteStream(join(this.localDir, name));
  }

  /** Uploads everything written to the S3 prefix (no-op for local directories). */
  async publish(): Promise<void> {
    if (this.s3Prefix === null) return;
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
