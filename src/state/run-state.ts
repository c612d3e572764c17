/**
 * Run state and resume (SPEC 3.1). One directory per run under the state dir holds a
 * manifest: the input's SHA-256, the flow, the split settings, and every part's number,
 * size, SHA-256, row range, status, task id and attempts. Every change is written to a
 * temporary file, flushed, and renamed over the manifest, so a crash at any moment leaves
 * either the old or the new manifest, never a torn one. A lock file keeps two sends from
 * working on the same run.
 *
 * Statuses move pending → uploading → uploaded | failed. A part found `uploading` after
 * a crash may or may not have reached Atomic; it is sent again, which is safe because
 * every row carries the same deterministic flowInvocationId.
 *
 * A run belongs to its destination (SPEC 3.1): the directory is keyed by the run id, the
 * API origin, the environment, the flow and the mode, and the manifest records them, so
 * state written for one Atomic (or one sandbox) never makes a send to another look done.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import { LocalRunStore, S3RunStore, type LeaseOptions, type RunStore } from './run-store.js';
import { idsFileName, type Part } from '../model/part.js';
import type { PartStatus, SendMode } from '../model/report.js';
import { openSealed, sealJson, type Sealer } from '../model/seal.js';

/**
 * 3: the manifest is sealed and records each part's id-file digest (2 recorded the
 * destination; 0.1.0 wrote 1, keyed by run id, flow and mode only).
 */
export const MANIFEST_VERSION = 3;
const LEGACY_MANIFEST_VERSION = 1;

/** Where a run's parts go: what, besides the run id, flow and mode, makes a send distinct. */
export interface Destination {
  /** Origin of the API base URL, e.g. https://acme.customer-api.atomic.io */
  apiOrigin: string;
  environmentId: string;
}

export interface ManifestPart {
  number: number;
  bytes: number;
  sha256: string;
  rows: number;
  firstLine: number;
  lastLine: number;
  firstRecord: number;
  lastRecord: number;
  status: PartStatus;
  taskId: string | null;
  attempts: number;
  uploadMs: number | null;
  error: string | null;
  updatedAt: string;
  /** SHA-256 of the part's `line,flowInvocationId` file, what invocations.csv is made of. */
  idsSha256: string | null;
}

export interface RunIdentity {
  runId: string;
  destination: Destination;
  input: { source: string; sha256: string; bytes: number };
  flow: { flowConfigId: string; version: number | string | null; mode: SendMode };
  /** Settings that decide part boundaries; a resume must use the same. */
  split: { maxPartBytes: number; onInvalid: 'abort' | 'skip' };
}

export interface Manifest extends RunIdentity {
  version: number;
  createdAt: string;
  updatedAt: string;
  /** True once every part of the run has been cut and recorded. */
  complete: boolean;
  /** When the last part of the run was accepted; null until then. */
  sentInFullAt: string | null;
  parts: ManifestPart[];
  /** Local report folders of the sends of this run, oldest first (for reconcile and cancel). */
  reports?: string[];
}

/** How run state is opened: where the lease is, and the seal of these credentials. */
export interface RunStateOptions extends LeaseOptions {
  sealer: Sealer;
  /**
   * The clock of lease times; `now` stamps the manifest. A rehearsal clock moves the run's
   * times, never its lease: leases are about live processes. Default: the real clock.
   */
  leaseNow?: () => Date;
}

/** What opening a run's state found. */
export interface OpenedRun {
  state: RunState;
  /** A 0.1.0 state directory for the same run id, flow and mode, not used (it names no destination). */
  legacyDir: string | null;
}

/**
 * The run's directory name: a readable run id prefix, the mode, and a hash of everything
 * that makes the send distinct (run id, destination, flow, mode).
 */
export function runKey(
  runId: string,
  flowConfigId: string,
  mode: SendMode,
  destination: Destination | null,
): string {
  const safe = runId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'run';
  const keyed = [runId, flowConfigId, mode];
  if (destination !== null) keyed.push(destination.apiOrigin, destination.environmentId);
  const hash = createHash('sha256').update(keyed.join('\u0000')).digest('hex').slice(0, 12);
  return `${safe}-${mode}-${hash}`;
}

/** Describes a destination for messages: origin and environment. */
export function describeDestination(d: Destination): string {
  return `${d.apiOrigin}, environment ${d.environmentId}`;
}

export class RunState {
  private writing: Promise<void> = Promise.resolve();

  private readonly store: RunStore;
  /** The clock every timestamp in the manifest is read from. */
  private readonly now: () => Date;
  private readonly sealer: Sealer;

  private constructor(
    kept: { store: RunStore; now: () => Date; sealer: Sealer },
    private manifest: Manifest,
    /** True when the manifest existed before this run. */
    readonly resumed: boolean,
  ) {
    this.store = kept.store;
    this.now = kept.now;
    this.sealer = kept.sealer;
  }

  /** The run's local directory: parts are cut into `parts/` (temporary for S3 state). */
  get dir(): string {
    return this.store.dir;
  }

  /** Where the manifest is kept: the local directory or the S3 prefix. */
  get where(): string {
    return this.store.where;
  }

  /**
   * Opens (or creates) the run's state and takes its lock — on S3 (`s3://bucket/prefix/`)
   * its lease (state/run-store.ts).
   */
  static async open(
    stateDir: string,
    identity: RunIdentity,
    now: Date,
    options: RunStateOptions,
  ): Promise<OpenedRun> {
    const { runId, flow, destination } = identity;
    const key = runKey(runId, flow.flowConfigId, flow.mode, destination);
    const clock = options.now ?? (() => new Date());
    const remote = stateDir.startsWith('s3://');
    const store: RunStore = remote
      ? await S3RunStore.open(`${stateDir.replace(/\/*$/, '/')}runs/${key}/`, {
          ...options,
          now: options.leaseNow,
        })
      : await LocalRunStore.open(join(stateDir, 'runs', key));
    try {
      const text = await store.readManifest();
      if (text !== null) {
        const existing = parseManifestText(text, store.where, options.sealer);
        checkSameRun(existing, identity);
        existing.flow.version = identity.flow.version;
        await checkIdFiles(existing, join(store.dir, 'parts'), store.where);
        return {
          state: new RunState({ store, now: clock, sealer: options.sealer }, existing, true),
          legacyDir: null,
        };
      }
      const manifest: Manifest = {
        version: MANIFEST_VERSION,
        ...identity,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        complete: false,
        sentInFullAt: null,
        parts: [],
      };
      await checkIdFiles(manifest, join(store.dir, 'parts'), store.where);
      const state = new RunState({ store, now: clock, sealer: options.sealer }, manifest, false);
      await state.save();
      const legacy = remote
        ? null
        : join(stateDir, 'runs', runKey(runId, flow.flowConfigId, flow.mode, null));
      return {
        state,
        legacyDir: legacy !== null && (await isLegacyRun(legacy)) ? legacy : null,
      };
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  get parts(): readonly ManifestPart[] {
    return this.manifest.parts;
  }

  get complete(): boolean {
    return this.manifest.complete;
  }

  /** When the run was first started (by this or an earlier invocation). */
  get createdAt(): string {
    return this.manifest.createdAt;
  }

  /** When the last part was accepted, or null while parts are left. */
  get sentInFullAt(): string | null {
    return this.manifest.sentInFullAt;
  }

  /** True when every part is known and uploaded. */
  get allUploaded(): boolean {
    return (
      this.manifest.complete &&
      this.manifest.parts.length > 0 &&
      this.manifest.parts.every((p) => p.status === 'uploaded')
    );
  }

  part(number: number): ManifestPart | undefined {
    return this.manifest.parts[number - 1];
  }

  /** Records a part as cut. A part cut before must be byte-identical, or the run is not the same. */
  async registerPart(part: Part): Promise<ManifestPart> {
    const known = this.part(part.number);
    if (known !== undefined) {
      if (
        known.sha256 !== part.sha256 ||
        known.bytes !== part.bytes ||
        (known.idsSha256 !== null && known.idsSha256 !== part.idsSha256)
      ) {
        throw new AtomicBulkError(
          'STATE',
          `Part ${part.number} differs from the one recorded for this run.`,
          {
            hint: 'The input or the settings changed since the run started; start a new run with another --run-id.',
          },
        );
      }
      return known;
    }
    if (part.number !== this.manifest.parts.length + 1)
      throw new Error(`part ${part.number} recorded out of order`);
    const entry: ManifestPart = {
      number: part.number,
      bytes: part.bytes,
      sha256: part.sha256,
      rows: part.rows,
      firstLine: part.firstLine,
      lastLine: part.lastLine,
      firstRecord: part.firstRecord,
      lastRecord: part.lastRecord,
      status: 'pending',
      taskId: null,
      attempts: 0,
      uploadMs: null,
      error: null,
      updatedAt: this.now().toISOString(),
      idsSha256: part.idsSha256,
    };
    this.manifest.parts.push(entry);
    await this.save();
    return entry;
  }

  /** Changes a part's record and writes the manifest before returning. */
  async update(
    number: number,
    patch: Partial<Pick<ManifestPart, 'status' | 'taskId' | 'attempts' | 'uploadMs' | 'error'>>,
  ): Promise<void> {
    const entry = this.part(number);
    if (entry === undefined) throw new Error(`no part ${number} in the run state`);
    const at = this.now().toISOString();
    Object.assign(entry, patch, { updatedAt: at });
    if (this.allUploaded) this.manifest.sentInFullAt ??= at;
    await this.save();
    if (patch.status === 'uploaded') await this.store.partUploaded(idsFileName(number));
  }

  /** Marks every part as cut: `count` is the final number of parts. */
  async markComplete(count: number): Promise<void> {
    if (count !== this.manifest.parts.length) {
      throw new AtomicBulkError(
        'STATE',
        `This run now has ${count} parts; ${this.manifest.parts.length} were recorded.`,
        {
          hint: 'The input or the settings changed since the run started; start a new run with another --run-id.',
        },
      );
    }
    this.manifest.complete = true;
    if (this.allUploaded) this.manifest.sentInFullAt ??= this.now().toISOString();
    await this.save();
  }

  /** Notes a local report folder of this run, so `reconcile <run-id>` can find it. */
  async noteReport(folder: string): Promise<void> {
    const reports = (this.manifest.reports ?? []).filter((r) => r !== folder);
    reports.push(folder);
    this.manifest.reports = reports.slice(-20);
    await this.save();
  }

  /**
   * Forgets the run's parts: a campaign's run that its ledger holds as finished starts
   * over (the ledger, not the run state, says which keys were sent; SPEC 8).
   */
  async restart(): Promise<void> {
    this.manifest.parts = [];
    this.manifest.complete = false;
    this.manifest.sentInFullAt = null;
    await this.save();
  }

  /** Sets every part back to pending (for --force). */
  async resetAll(): Promise<void> {
    for (const p of this.manifest.parts) Object.assign(p, { status: 'pending', error: null });
    this.manifest.sentInFullAt = null;
    await this.save();
  }

  /**
   * Removes part files (and unfinished temporary files) from the run's directory: they
   * hold personal data and are cut again from the input on resume. The `.ids.csv` files
   * (line numbers and invocation ids) stay for invocations.csv.
   */
  async removePartFiles(): Promise<number> {
    const dir = join(this.dir, 'parts');
    const names = await readdir(dir).catch(() => [] as string[]);
    const doomed = names.filter((n) => /^part-\d+\.csv$/.test(n) || n.endsWith('.tmp'));
    await Promise.all(doomed.map((n) => rm(join(dir, n), { force: true })));
    return doomed.length;
  }

  snapshot(): Manifest {
    return structuredClone(this.manifest);
  }

  /** Waits for pending writes and releases the lock or lease. */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.store.close();
  }

  private save(): Promise<void> {
    this.manifest.updatedAt = this.now().toISOString();
    const text = sealJson(this.sealer, 'manifest', this.manifest);
    const write = this.writing.then(() => this.store.writeManifest(text));
    this.writing = write.catch(() => undefined);
    return write;
  }
}

/**
 * Parses a manifest's text; `where` names it in messages. A manifest whose seal does not
 * verify with these credentials was not written by atomic-bulk for them — planted, edited,
 * or written before a credential rotation — and is not believed: it could make a run look
 * sent that never was.
 */
function parseManifestText(text: string, where: string, sealer: Sealer): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw damaged(where, 'it is not JSON', error);
  }
  checkVersion(raw, where);
  const plain = openSealed(sealer, 'manifest', raw);
  if (plain === null)
    throw new AtomicBulkError(
      'STATE',
      `The run state in ${where} is not sealed with these credentials: it was not written by atomic-bulk for this client, or it was changed since, so it is not believed.`,
      {
        hint: `If the client credentials were rotated since the run started, or you do not know who wrote it, move it away to start the run afresh (rows keep their flowInvocationIds, so Atomic does not send twice).`,
      },
    );
  return parseManifest(plain, where);
}

/** A manifest of another atomic-bulk version is named as such, before its seal is checked. */
function checkVersion(raw: unknown, dir: string): void {
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== MANIFEST_VERSION)
    throw new AtomicBulkError(
      'STATE',
      `The run state in ${dir} was written by another version of atomic-bulk (manifest version ${version === undefined ? 'none' : JSON.stringify(version)}).`,
      { hint: AFRESH },
    );
}

/**
 * The id files beside a manifest are what invocations.csv, and so reconcile and cancel,
 * are made of. Each uploaded part's file must be there with the digest the sealed
 * manifest recorded; a file for any other part (planted, or left by a killed send) is
 * removed, since that part is cut again before it is uploaded.
 */
async function checkIdFiles(manifest: Manifest, partsDir: string, where: string): Promise<void> {
  const names = await readdir(partsDir).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^part-(\d+)\.ids\.csv$/.exec(name);
    if (match === null) continue;
    const part = manifest.parts[Number(match[1]) - 1];
    if (part === undefined || part.status !== 'uploaded')
      await rm(join(partsDir, name), { force: true });
  }
  for (const part of manifest.parts) {
    if (part.status !== 'uploaded' || part.idsSha256 === null) continue;
    const name = idsFileName(part.number);
    const digest = await fileSha256(join(partsDir, name));
    if (digest !== part.idsSha256)
      throw new AtomicBulkError(
        'STATE',
        `The id file of part ${part.number} in ${where} is ${digest === null ? 'missing' : 'not the one this run wrote'}: the run's invocations.csv cannot be made from it.`,
        {
          hint: 'Restore the run state as atomic-bulk wrote it, or move it away to start the run afresh (rows keep their flowInvocationIds, so Atomic does not send twice).',
        },
      );
  }
}

/** SHA-256 of a file, hex; null when it does not exist. */
export async function fileSha256(path: string): Promise<string | null> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
      hash.update(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return hash.digest('hex');
}

const AFRESH =
  'Move that directory away to start the run afresh (rows keep their flowInvocationIds, so nothing is sent twice).';

function damaged(dir: string, why: string, cause?: unknown): AtomicBulkError {
  return new AtomicBulkError(
    'STATE',
    `The run state in ${dir} is damaged: ${why}.`,
    { hint: AFRESH },
    cause,
  );
}

const PART_STATUSES = ['pending', 'uploading', 'uploaded', 'failed'];

/**
 * Checks a manifest read from disk, field by field, like every other boundary (flow
 * configs, csv-task responses): a version this release does not write, a missing or
 * mistyped field, or parts out of order are STATE errors naming the field, never a crash
 * later on.
 */
export function parseManifest(raw: unknown, dir: string): Manifest {
  const shape = new Shape(dir);
  const m = shape.obj(raw, 'the manifest');
  checkVersion(m, dir);
  for (const key of ['runId', 'createdAt', 'updatedAt']) shape.text(m, key, 'manifest');
  shape.text(m, 'sentInFullAt', 'manifest', true);
  if (typeof m.complete !== 'boolean') throw damaged(dir, 'manifest.complete is not true or false');
  const destination = shape.obj(m.destination, 'destination');
  shape.text(destination, 'apiOrigin', 'destination');
  shape.text(destination, 'environmentId', 'destination');
  const input = shape.obj(m.input, 'input');
  shape.text(input, 'source', 'input');
  shape.text(input, 'sha256', 'input');
  shape.num(input, 'bytes', 'input');
  const flow = shape.obj(m.flow, 'flow');
  shape.text(flow, 'flowConfigId', 'flow');
  if (flow.mode !== 'live' && flow.mode !== 'test')
    throw damaged(dir, 'flow.mode is not live or test');
  const split = shape.obj(m.split, 'split');
  shape.num(split, 'maxPartBytes', 'split');
  if (split.onInvalid !== 'abort' && split.onInvalid !== 'skip')
    throw damaged(dir, 'split.onInvalid is not abort or skip');
  if (!Array.isArray(m.parts)) throw damaged(dir, 'manifest.parts is not a list');
  m.parts.forEach((value, k) => {
    checkPart(shape, value, k);
  });
  if (
    m.reports !== undefined &&
    !(Array.isArray(m.reports) && m.reports.every((r) => typeof r === 'string'))
  )
    throw damaged(dir, 'manifest.reports is not a list of folders');
  return m as unknown as Manifest;
}

/** Part k of the manifest: numbered in order, every count and field of its type. */
function checkPart(shape: Shape, value: unknown, k: number): void {
  const path = `parts[${k}]`;
  const p = shape.obj(value, path);
  if (p.number !== k + 1) throw damaged(shape.dir, `${path}.number is not ${k + 1}`);
  for (const key of ['bytes', 'rows', 'firstLine', 'lastLine', 'firstRecord', 'lastRecord'])
    shape.num(p, key, path);
  shape.num(p, 'attempts', path);
  shape.num(p, 'uploadMs', path, true);
  shape.text(p, 'sha256', path);
  shape.text(p, 'updatedAt', path);
  for (const key of ['taskId', 'error', 'idsSha256']) shape.text(p, key, path, true);
  if (!PART_STATUSES.includes(p.status as string))
    throw damaged(shape.dir, `${path}.status is not one of ${PART_STATUSES.join(', ')}`);
}

/** Checks of a value read back, each failing with a STATE error that names the field. */
class Shape {
  constructor(readonly dir: string) {}

  obj(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw damaged(this.dir, `${path} is not an object`);
    return value as Record<string, unknown>;
  }

  text(o: Record<string, unknown>, key: string, path: string, nullable = false): void {
    const v = o[key];
    if (typeof v === 'string' || (nullable && v === null)) return;
    throw damaged(this.dir, `${path}.${key} is not ${nullable ? 'text or null' : 'text'}`);
  }

  /** A finite, non-negative number (a count, a size, a time). */
  num(o: Record<string, unknown>, key: string, path: string, nullable = false): void {
    const v = o[key];
    if ((typeof v === 'number' && Number.isFinite(v) && v >= 0) || (nullable && v === null)) return;
    throw damaged(this.dir, `${path}.${key} is not a number${nullable ? ' or null' : ''}`);
  }
}

/** True when `dir` holds a manifest written by 0.1.0 (version 1, no destination). */
async function isLegacyRun(dir: string): Promise<boolean> {
  try {
    const old = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
      version?: unknown;
    };
    return old.version === LEGACY_MANIFEST_VERSION;
  } catch {
    return false;
  }
}

function checkSameRun(existing: Manifest, identity: RunIdentity): void {
  const differences: string[] = [];
  const d = existing.destination;
  if (
    d.apiOrigin !== identity.destination.apiOrigin ||
    d.environmentId !== identity.destination.environmentId
  )
    differences.push(`it belongs to ${describeDestination(d)}`);
  if (existing.input.sha256 !== identity.input.sha256)
    differences.push('the input file is different');
  // Part boundaries matter only while parts are left to cut or upload: a run sent in full
  // is recognised whatever its budget was, and says "nothing uploaded".
  const sentInFull =
    existing.complete &&
    existing.parts.length > 0 &&
    existing.parts.every((p) => p.status === 'uploaded');
  if (!sentInFull && existing.split.maxPartBytes !== identity.split.maxPartBytes)
    differences.push(`--max-part-bytes was ${existing.split.maxPartBytes}`);
  if (!sentInFull && existing.split.onInvalid !== identity.split.onInvalid)
    differences.push(`--on-invalid was ${existing.split.onInvalid}`);
  if (differences.length > 0) {
    throw new AtomicBulkError(
      'STATE',
      `Run ${identity.runId} was started with other settings: ${differences.join('; ')}.`,
      {
        hint: 'Resume with the same input and settings, or start a new run with another --run-id.',
      },
    );
  }
}
