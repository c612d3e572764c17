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
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import type { PartStatus, SendMode } from '../model/report.js';

export const MANIFEST_VERSION = 1;

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
}

export interface RunIdentity {
  runId: string;
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
  parts: ManifestPart[];
}

/** The run's directory name: readable run id prefix, plus a hash of what keys the ids. */
export function runKey(runId: string, flowConfigId: string, mode: SendMode): string {
  const safe = runId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'run';
  const hash = createHash('sha256')
    .update(`${runId}\u0000${flowConfigId}\u0000${mode}`)
    .digest('hex')
    .slice(0, 12);
  return `${safe}-${mode}-${hash}`;
}

export class RunState {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    /** The run's directory. */
    readonly dir: string,
    private manifest: Manifest,
    /** True when the manifest existed before this run. */
    readonly resumed: boolean,
  ) {}

  /** Opens (or creates) the run's state and takes its lock. */
  static async open(stateDir: string, identity: RunIdentity, now: Date): Promise<RunState> {
    const dir = join(
      stateDir,
      'runs',
      runKey(identity.runId, identity.flow.flowConfigId, identity.flow.mode),
    );
    try {
      await mkdir(join(dir, 'parts'), { recursive: true });
    } catch (error) {
      throw new AtomicBulkError(
        'STATE',
        `Cannot create the state directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
        { hint: 'Choose a writable --state-dir.' },
        error,
      );
    }
    await lock(dir);
    try {
      const existing = await readManifest(dir);
      if (existing !== null) {
        checkSameRun(existing, identity);
        existing.flow.version = identity.flow.version;
        return new RunState(dir, existing, true);
      }
      const manifest: Manifest = {
        version: MANIFEST_VERSION,
        ...identity,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        complete: false,
        parts: [],
      };
      const state = new RunState(dir, manifest, false);
      await state.save();
      return state;
    } catch (error) {
      await unlock(dir);
      throw error;
    }
  }

  get parts(): readonly ManifestPart[] {
    return this.manifest.parts;
  }

  get complete(): boolean {
    return this.manifest.complete;
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
      if (known.sha256 !== part.sha256 || known.bytes !== part.bytes) {
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
      updatedAt: new Date().toISOString(),
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
    Object.assign(entry, patch, { updatedAt: new Date().toISOString() });
    await this.save();
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
    await this.save();
  }

  /** Sets every part back to pending (for --force). */
  async resetAll(): Promise<void> {
    for (const p of this.manifest.parts) Object.assign(p, { status: 'pending', error: null });
    await this.save();
  }

  snapshot(): Manifest {
    return structuredClone(this.manifest);
  }

  /** Waits for pending writes and releases the lock. */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await unlock(this.dir);
  }

  private save(): Promise<void> {
    this.manifest.updatedAt = new Date().toISOString();
    const text = `${JSON.stringify(this.manifest, null, 2)}\n`;
    const write = this.writing.then(() => writeAtomically(join(this.dir, 'manifest.json'), text));
    this.writing = write.catch(() => undefined);
    return write;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    throw new AtomicBulkError(
      'STATE',
      `Cannot write the run state ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {},
      error,
    );
  }
}

async function readManifest(dir: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AtomicBulkError('STATE', `Cannot read the run state in ${dir}.`, {}, error);
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    if (manifest.version !== MANIFEST_VERSION || !Array.isArray(manifest.parts))
      throw new Error('unknown manifest version');
    return manifest;
  } catch (error) {
    throw new AtomicBulkError(
      'STATE',
      `The run state in ${dir} is damaged.`,
      {
        hint: 'Move that directory away to start the run afresh (rows keep their flowInvocationIds, so nothing is sent twice).',
      },
      error,
    );
  }
}

function checkSameRun(existing: Manifest, identity: RunIdentity): void {
  const differences: string[] = [];
  if (existing.input.sha256 !== identity.input.sha256)
    differences.push('the input file is different');
  if (existing.split.maxPartBytes !== identity.split.maxPartBytes)
    differences.push(`--max-part-bytes was ${existing.split.maxPartBytes}`);
  if (existing.split.onInvalid !== identity.split.onInvalid)
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

async function lock(dir: string): Promise<void> {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(path, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AtomicBulkError(
          'STATE',
          `Another atomic-bulk send (pid ${pid}) is working on this run.`,
          {
            hint: 'Wait for it to finish, or stop it; a second send of the same run would only compete with it.',
          },
        );
      }
      // A lock left by a process that died: take it over.
      await rm(path, { force: true });
    }
  }
  throw new AtomicBulkError('STATE', `Cannot lock the run state in ${dir}.`);
}

async function unlock(dir: string): Promise<void> {
  await rm(join(dir, 'lock'), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
