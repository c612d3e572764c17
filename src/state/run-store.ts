/**
 * Where a run's manifest lives and who may write it (SPEC 3.1, 4): a local directory
 * guarded by a pid lock, or an S3 prefix guarded by a lease taken with conditional writes,
 * so a job restarted on another machine resumes where the last one stopped and two jobs
 * never send one run at once.
 *
 * Either way the run has a private local directory for the parts being cut (`parts/`);
 * on S3 it is a temporary one, and each part's `line,flowInvocationId` file is copied to
 * the prefix once the part is uploaded, so a send resumed elsewhere can still write the
 * whole invocations.csv.
 */
import { DEFAULTS } from '../model/limits.js';
import { chmod, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  makeOwnedTempDir,
  makePrivateDir,
  removeOwnedTempDir,
  PRIVATE_DIR_MODE,
  releasePidLock,
  takePidLock,
  writePrivateFile,
} from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';

export interface RunStore {
  /** The run's local directory (parts are cut into `parts/`). */
  readonly dir: string;
  /** Where the manifest is, for messages. */
  readonly where: string;
  /** The manifest's text, or null for a new run. */
  readManifest(): Promise<string | null>;
  writeManifest(text: string): Promise<void>;
  /** Called after a part was recorded as uploaded, with the name of its id file in `parts/`. */
  partUploaded(idsFile: string): Promise<void>;
  /** Releases the lock or lease; removes a temporary directory. */
  close(): Promise<void>;
}

/** A local state directory: the manifest written atomically, a pid lock. */
export class LocalRunStore implements RunStore {
  private constructor(readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  static async open(dir: string): Promise<LocalRunStore> {
    try {
      await makePrivateDir(join(dir, 'parts'));
      await chmod(dir, PRIVATE_DIR_MODE);
    } catch (error) {
      throw new AtomicBulkError(
        'STATE',
        `Cannot create the state directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
        { hint: 'Choose a writable --state-dir.' },
        error,
      );
    }
    const holder = await takePidLock(dir, 'lock');
    if (holder !== null) {
      throw new AtomicBulkError(
        'BUSY',
        `Another atomic-bulk send (pid ${holder}) is working on this run.`,
        {
          hint: 'Wait for it to finish, or stop it; a second send of the same run would only compete with it.',
        },
      );
    }
    return new LocalRunStore(dir);
  }

  async readManifest(): Promise<string | null> {
    try {
      return await readFile(join(this.dir, 'manifest.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new AtomicBulkError('STATE', `Cannot read the run state in ${this.dir}.`, {}, error);
    }
  }

  async writeManifest(text: string): Promise<void> {
    const path = join(this.dir, 'manifest.json');
    try {
      await writePrivateFile(path, text, { sync: true });
    } catch (error) {
      throw new AtomicBulkError(
        'STATE',
        `Cannot write the run state ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
        {},
        error,
      );
    }
  }

  async partUploaded(): Promise<void> {
    // Id files already live next to the manifest.
  }

  async close(): Promise<void> {
    await releasePidLock(this.dir, 'lock');
  }
}

export interface LeaseOptions {
  s3Endpoint?: string;
  /** How long a lease lasts unless renewed; a crashed holder blocks the run this long. */
  ttlMs?: number;
  /** Run without a lease (only where the scheduler guarantees one send at a time). */
  noLease?: boolean;
  now?: () => Date;
  /** Warnings for the user (a lease taken over, running without one). */
  warn?: (text: string) => void;
}

export const DEFAULT_LEASE_TTL_MS = DEFAULTS.leaseTtlMs;
/** The largest manifest read back (a million-row run's manifest is well under 1 MiB). */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

interface LeaseRecord {
  holder: string;
  host: string;
  pid: number;
  acquiredAt: string;
  expiresAt: string;
  released: boolean;
}

/**
 * Run state in S3: `manifest.json`, `lease.json` and `parts/*.ids.csv` under the run's
 * prefix. The lease is created with If-None-Match: * and renewed, taken over once
 * expired, and released with If-Match on its ETag; the manifest is written with If-Match
 * on the ETag this process last wrote, so a holder that lost its lease cannot overwrite
 * its successor's progress.
 */
export class S3RunStore implements RunStore {
  private manifestTag: string | null = null;
  private leaseTag: string | null = null;
  private lease: LeaseRecord | null = null;
  private renewing: NodeJS.Timeout | null = null;
  private lost: string | null = null;
  private s3!: typeof import('../s3/s3.js');

  private constructor(
    readonly dir: string,
    /** s3://bucket/prefix/runs/<key>/ */
    private readonly prefix: string,
    private readonly options: LeaseOptions,
  ) {}

  get where(): string {
    return this.prefix;
  }

  private get now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private get s3Options() {
    return { endpoint: this.options.s3Endpoint, label: 'Run state' };
  }

  static async open(prefix: string, options: LeaseOptions = {}): Promise<S3RunStore> {
    const dir = await makeOwnedTempDir('state');
    await makePrivateDir(join(dir, 'parts'));
    const store = new S3RunStore(dir, prefix.endsWith('/') ? prefix : `${prefix}/`, options);
    try {
      store.s3 = await import('../s3/s3.js');
      if (options.noLease === true)
        options.warn?.(
          `Running without a lease on ${store.prefix} (--no-lease): nothing stops another send of this run at the same time.`,
        );
      else await store.acquire();
      await store.pullIds();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async readManifest(): Promise<string | null> {
    const found = await this.s3.readS3Text(
      `${this.prefix}manifest.json`,
      MAX_MANIFEST_BYTES,
      this.s3Options,
    );
    this.manifestTag = found?.etag ?? null;
    return found?.text ?? null;
  }

  async writeManifest(text: string): Promise<void> {
    this.assertHeld();
    const uri = `${this.prefix}manifest.json`;
    if (this.options.noLease === true) {
      await this.s3.putS3Object(uri, text, 'application/json', this.s3Options);
      return;
    }
    const tag = await this.s3.writeS3Conditional(
      uri,
      text,
      this.manifestTag === null ? { ifNoneMatch: '*' } : { ifMatch: this.manifestTag },
      this.s3Options,
    );
    if (tag === null) {
      this.lost = 'another send changed its state';
      throw new AtomicBulkError(
        'BUSY',
        `Another atomic-bulk send changed the run state in ${this.prefix}; this send stops so the two do not compete.`,
        { hint: 'Let the other send finish; run again afterwards to resume what is left.' },
      );
    }
    this.manifestTag = tag;
  }

  /**
   * Copies the part's id file up, always: what is at that name on S3 may have been put
   * there by someone else, and the sealed manifest records the digest of this one.
   */
  async partUploaded(idsFile: string): Promise<void> {
    const path = join(this.dir, 'parts', idsFile);
    if ((await stat(path).catch(() => null)) === null) return;
    await this.s3.putS3File(`${this.prefix}parts/${idsFile}`, path, 'text/csv', this.s3Options);
  }

  async close(): Promise<void> {
    if (this.renewing !== null) clearInterval(this.renewing);
    this.renewing = null;
    try {
      if (this.leaseTag !== null && this.lease !== null && this.lost === null) {
        const released = { ...this.lease, expiresAt: this.now.toISOString(), released: true };
        await this.s3
          .writeS3Conditional(
            `${this.prefix}lease.json`,
            `${JSON.stringify(released)}\n`,
            { ifMatch: this.leaseTag },
            this.s3Options,
          )
          .catch(() => null);
      }
    } finally {
      this.leaseTag = null;
      await removeOwnedTempDir(this.dir);
    }
  }

  /** Refuses to go on once the lease is lost or has run out without renewal. */
  private assertHeld(): void {
    if (this.options.noLease === true) return;
    const expires = this.lease === null ? 0 : Date.parse(this.lease.expiresAt);
    if (this.lost === null && this.now.getTime() >= expires)
      this.lost = 'it ran out before it could be renewed';
    if (this.lost !== null)
      throw new AtomicBulkError(
        'BUSY',
        `This send lost its lease on ${this.prefix} (${this.lost}); it stops so that two sends never work on one run.`,
        { hint: 'Run again to resume; parts already uploaded are not sent again.' },
      );
  }

  private ttl(): number {
    return this.options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  private record(acquiredAt: string): LeaseRecord {
    return {
      holder: this.lease?.holder ?? randomUUID(),
      host: hostname(),
      pid: process.pid,
      acquiredAt,
      expiresAt: new Date(this.now.getTime() + this.ttl()).toISOString(),
      released: false,
    };
  }

  private async acquire(): Promise<void> {
    const uri = `${this.prefix}lease.json`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const mine = this.record(this.now.toISOString());
      const text = `${JSON.stringify(mine)}\n`;
      let tag = await this.s3.writeS3Conditional(uri, text, { ifNoneMatch: '*' }, this.s3Options);
      if (tag === null) {
        const current = await this.s3.readS3Text(uri, 64 * 1024, this.s3Options);
        if (current === null) continue; // released and removed meanwhile: try again
        const held = parseLease(
          current.text,
          current.lastModified ?? this.now.getTime(),
          this.ttl(),
        );
        if (held !== null && Date.parse(held.expiresAt) > this.now.getTime() && !held.released)
          throw new AtomicBulkError(
            'BUSY',
            `Another atomic-bulk send (host ${held.host}, pid ${held.pid}) holds the lease on this run until ${held.expiresAt}.`,
            {
              hint: 'Let it finish, then run again to resume. If it crashed, its lease runs out at that time and the next send takes over.',
            },
          );
        tag = await this.s3.writeS3Conditional(
          uri,
          text,
          { ifMatch: current.etag },
          this.s3Options,
        );
        if (tag === null) continue; // another send took it first: look again
        if (held !== null && !held.released)
          this.options.warn?.(
            `Took over the lease of a send that stopped without releasing it (host ${held.host}, pid ${held.pid}, expired ${held.expiresAt}).`,
          );
      }
      this.lease = mine;
      this.leaseTag = tag;
      await this.checkConditionalWrites(uri, text);
      this.renewing = setInterval(() => void this.renew(), Math.max(1000, this.ttl() / 3));
      this.renewing.unref();
      return;
    }
    throw new AtomicBulkError('BUSY', `Other sends keep taking the lease on ${this.prefix}.`, {
      hint: 'Make sure only one job sends this run; run again later.',
    });
  }

  /**
   * A store that ignores If-None-Match would let two sends both "take" the lease. Writing
   * the lease again on that condition must fail; if it succeeds, the store cannot keep
   * sends apart, and atomic-bulk says so instead of pretending.
   */
  private async checkConditionalWrites(uri: string, text: string): Promise<void> {
    const again = await this.s3.writeS3Conditional(uri, text, { ifNoneMatch: '*' }, this.s3Options);
    if (again === null) return;
    this.leaseTag = again;
    throw new AtomicBulkError(
      'CONFIG',
      `The S3 store behind ${this.prefix} does not enforce conditional writes (If-None-Match), so a lease there cannot keep two sends of one run apart.`,
      {
        hint: 'Keep the state on a store that does (AWS S3, Ceph radosgw, MinIO) or on a local --state-dir; or, if your scheduler already runs one send at a time (a CronJob with concurrencyPolicy: Forbid), pass --no-lease.',
      },
    );
  }

  private async renew(): Promise<void> {
    if (this.leaseTag === null || this.lease === null || this.lost !== null) return;
    const next = {
      ...this.lease,
      expiresAt: new Date(this.now.getTime() + this.ttl()).toISOString(),
    };
    try {
      const tag = await this.s3.writeS3Conditional(
        `${this.prefix}lease.json`,
        `${JSON.stringify(next)}\n`,
        { ifMatch: this.leaseTag },
        this.s3Options,
      );
      if (tag === null) {
        this.lost = 'another send took it over';
        return;
      }
      this.lease = next;
      this.leaseTag = tag;
    } catch {
      // A failed renewal is retried at the next tick; assertHeld stops the send once the
      // lease runs out.
    }
  }

  /** Copies the id files of parts uploaded by earlier sends of this run. */
  private async pullIds(): Promise<void> {
    const { bucket, key } = this.s3.parseS3Uri(`${this.prefix}parts/`);
    const listing = await this.s3.listS3Prefix(bucket, key, this.s3Options);
    for (const o of listing.objects) {
      const name = o.key.slice(key.length);
      if (!/^part-\d+\.ids\.csv$/.test(name)) continue;
      await this.s3.downloadS3File(
        `${this.prefix}parts/${name}`,
        join(this.dir, 'parts', name),
        this.s3Options,
      );
    }
  }
}

/**
 * A lease as someone wrote it, honoured at most `ttlMs` after its last write (the store's
 * Last-Modified): a lease claiming to run until 2099 — planted, or written by a send with
 * a longer --lease-ttl — never blocks a run longer than this send's own TTL.
 */
function parseLease(text: string, writtenAtMs: number, ttlMs: number): LeaseRecord | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    // Another process wrote it, maybe not ours: what is shown is made printable and short.
    const str = (x: unknown, fallback: string) =>
      typeof x === 'string' ? printable(x).slice(0, 200) : fallback;
    if (typeof v.expiresAt !== 'string' || Number.isNaN(Date.parse(v.expiresAt))) return null;
    return {
      holder: str(v.holder, ''),
      host: str(v.host, 'unknown'),
      pid: typeof v.pid === 'number' && Number.isSafeInteger(v.pid) ? v.pid : 0,
      acquiredAt: str(v.acquiredAt, ''),
      expiresAt: new Date(Math.min(Date.parse(v.expiresAt), writtenAtMs + ttlMs)).toISOString(),
      released: v.released === true,
    };
  } catch {
    return null;
  }
}
