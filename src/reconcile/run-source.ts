/**
 * The run that reconcile and cancel work on: a `send` report folder (report.json and
 * invocations.csv), or a run id, found in the state directory and led back to the last
 * report folder a send of it wrote. The run must have been sent to the destination the
 * connection points at: checking one Atomic against another's ids would only mislead.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import type { ApiDestination } from '../api/client.js';
import { makeOwnedTempDir, removeOwnedTempDir } from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';
import { invocationRecords, MalformedInvocations, type Invocation } from './invocations-reader.js';
import type { Report } from '../model/report.js';
import { openSealed, type Sealer } from '../model/seal.js';

export interface SentRun {
  /** The report folder, local. */
  folder: string;
  /** The report as sealed, without its seal. */
  report: Report;
  /**
   * A private copy of invocations.csv, checked against the digest and row count the
   * sealed report recorded: what reconcile and cancel read, never the folder's file.
   */
  invocationsPath: string;
  /** Rows in invocations.csv: the run's sent rows. */
  rows: number;
  /** Removes the private copy. */
  close(): Promise<void>;
}

/** What opening a run needs from the API: where it points, and its credentials' seal. */
export interface RunOwner {
  destination: ApiDestination;
  sealer: Sealer;
}

/** report.json of a million-row send is a few hundred KiB; more is not a report. */
const MAX_REPORT_BYTES = 64 << 20;
const INVOCATIONS_FILE = 'invocations.csv';
/** An id as validation accepts it (validate/cells.ts) or as the tool makes it. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() === true;
}

function notUsable(folder: string, why: string, hint: string): AtomicBulkError {
  return new AtomicBulkError('USAGE', `${printable(folder)} ${why}`, { hint });
}

/**
 * Finds and checks the run named by `target` (a report folder or a run id). The report
 * must be sealed with the connection's credentials, and its invocations.csv must be the
 * file the send wrote (digest and rows): a folder holding one campaign's report and
 * another's invocations.csv, or an edited one, is refused before anything is asked of
 * Atomic — cancel acts only on ids proven to be the run's.
 */
export async function openSentRun(
  target: string,
  stateDir: string,
  owner: RunOwner,
): Promise<SentRun> {
  const byFolder = await isDirectory(target);
  const folder = byFolder
    ? resolve(target)
    : await folderOfRunId(target, stateDir, owner.destination);
  const report = await readSealedReport(folder, owner);
  if (!byFolder && report.runId !== target)
    throw notUsable(
      folder,
      `holds the report of run ${printable((report.runId ?? '').slice(0, 16))}…, not of run ${printable(target.slice(0, 64))}.`,
      'Give the report folder of the send you mean.',
    );
  const { invocationsSha256, invocationsRows } = report.files;
  if (typeof invocationsSha256 !== 'string' || typeof invocationsRows !== 'number')
    throw notUsable(
      folder,
      'holds a report that does not record its invocations.csv digest.',
      'Run the send again with the same --state-dir and a new --report-dir: nothing is uploaded again, and a complete report is written.',
    );
  const copy = await privateCopy(join(folder, INVOCATIONS_FILE));
  try {
    const rows = copy.sha256 === invocationsSha256 ? await countRows(copy.path) : -1;
    if (rows !== invocationsRows)
      throw notUsable(
        folder,
        `holds an ${INVOCATIONS_FILE} that is not the one this report's send wrote (its digest or row count differs).`,
        'Restore the report folder as the send wrote it, or re-make it: run the send again with the same --state-dir and a new --report-dir (nothing is uploaded again).',
      );
    return { folder, report, invocationsPath: copy.path, rows, close: copy.close };
  } catch (error) {
    await copy.close();
    throw error;
  }
}

async function readSealedReport(folder: string, owner: RunOwner): Promise<Report> {
  const path = join(folder, 'report.json');
  let parsed: unknown;
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size > MAX_REPORT_BYTES) throw new Error('not a report');
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw notUsable(
      folder,
      'holds no readable report.json.',
      'Give the report folder of a send (it has report.json and invocations.csv), or its run id.',
    );
  }
  // Where it says it was sent decides the message first: another Atomic's credentials
  // cannot verify the seal either, and "sent elsewhere" is what the user needs to hear.
  checkSentTo(parsed, owner.destination);
  const plain = openSealed(owner.sealer, 'report', parsed) as Report | null;
  if (plain === null)
    throw notUsable(
      folder,
      'holds a report.json that is not sealed with these credentials: it was written for another client, by an earlier atomic-bulk, or changed since, so reconcile and cancel do not act on it.',
      'Use the client credentials the send used; to re-make the report, run the send again with the same --state-dir and a new --report-dir (nothing is uploaded again).',
    );
  if (
    plain.command !== 'send' ||
    plain.dryRun ||
    (plain.files as Report['files'] | undefined)?.invocations !== INVOCATIONS_FILE
  )
    throw notUsable(
      folder,
      `is not the report of a send that uploaded rows${plain.dryRun ? ' (it was a dry run)' : ''}.`,
      'Reconcile and cancel work on a send that uploaded rows: it writes invocations.csv.',
    );
  return plain;
}

/** The run must have been sent where the connection points: one Atomic's ids mean nothing to another. */
function checkSentTo(report: unknown, destination: ApiDestination): void {
  const sentTo = (report as { destination?: unknown } | null)?.destination as
    { apiOrigin?: unknown; environmentId?: unknown } | null | undefined;
  const origin = typeof sentTo?.apiOrigin === 'string' ? sentTo.apiOrigin : null;
  const environment = typeof sentTo?.environmentId === 'string' ? sentTo.environmentId : null;
  if (origin === destination.apiOrigin && environment === destination.environmentId) return;
  const where =
    origin === null || environment === null
      ? 'an unknown destination'
      : `${printable(origin).slice(0, 200)}, environment ${printable(environment).slice(0, 200)}`;
  throw new AtomicBulkError(
    'USAGE',
    `This run was sent to ${where}; the connection points at ${destination.apiOrigin}, environment ${destination.environmentId}.`,
    {
      hint: 'Set ATOMIC_BASE_URL and ATOMIC_ENVIRONMENT_ID (or the flags) to where the run was sent.',
    },
  );
}

/**
 * Copies a file into a private temporary folder while hashing it, so what is checked is
 * what is read afterwards (the folder's file could change in between).
 */
async function privateCopy(
  path: string,
): Promise<{ path: string; sha256: string; close: () => Promise<void> }> {
  const info = await lstat(path).catch(() => null);
  if (info === null || !info.isFile())
    throw notUsable(
      path,
      info === null
        ? "is missing: it is the list of the run's rows and their invocation ids."
        : 'is not a regular file.',
      'Restore the report folder as the send wrote it.',
    );
  const dir = await makeOwnedTempDir('run');
  const close = () => removeOwnedTempDir(dir);
  try {
    const copy = join(dir, INVOCATIONS_FILE);
    const hash = createHash('sha256');
    const out = createWriteStream(copy, { flags: 'wx', mode: 0o600 });
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    await new Promise<void>((done, fail) => out.end((e?: Error | null) => (e ? fail(e) : done())));
    return { path: copy, sha256: hash.digest('hex'), close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function folderOfRunId(
  runId: string,
  stateDir: string,
  destination: ApiDestination,
): Promise<string> {
  if (stateDir.startsWith('s3://'))
    throw new AtomicBulkError(
      'USAGE',
      `A run id is looked up in a local --state-dir; ${stateDir} is on S3.`,
      { hint: 'Name the report folder of the send instead (its --report-dir).' },
    );
  const runs = join(stateDir, 'runs');
  const found: { folder: string; flow: string; mode: string }[] = [];
  for (const key of await readdir(runs).catch(() => [] as string[])) {
    const manifest = (await readFile(join(runs, key, 'manifest.json'), 'utf8')
      .then((t) => JSON.parse(t) as Record<string, unknown>)
      .catch(() => null)) as {
      runId?: string;
      destination?: ApiDestination;
      flow?: { flowConfigId?: string; mode?: string };
      reports?: string[];
    } | null;
    if (manifest?.runId !== runId) continue;
    if (
      manifest.destination?.apiOrigin !== destination.apiOrigin ||
      manifest.destination.environmentId !== destination.environmentId
    )
      continue;
    const reports = [...(manifest.reports ?? [])].reverse();
    let folder: string | null = null;
    for (const r of reports) if (folder === null && (await isDirectory(r))) folder = r;
    if (folder === null)
      throw new AtomicBulkError(
        'USAGE',
        `Run ${printable(runId)} is in ${stateDir}, but the report folder of its send is gone.`,
        { hint: 'Give the report folder instead of the run id.' },
      );
    found.push({
      folder,
      flow: manifest.flow?.flowConfigId ?? '?',
      mode: manifest.flow?.mode ?? '?',
    });
  }
  if (found.length === 0)
    throw new AtomicBulkError(
      'USAGE',
      `No report folder and no run ${printable(runId)} sent to ${destination.apiOrigin}, environment ${destination.environmentId}, in ${stateDir}.`,
      { hint: 'Give the report folder of the send, or the run id with the --state-dir send used.' },
    );
  if (found.length > 1)
    throw new AtomicBulkError(
      'USAGE',
      `Run ${printable(runId)} was sent more than once (${found.map((f) => `${f.flow} ${f.mode}`).join(', ')}).`,
      { hint: `Give one report folder: ${found.map((f) => f.folder).join(', ')}.` },
    );
  return (found[0] as { folder: string }).folder;
}

async function countRows(path: string): Promise<number> {
  let rows = 0;
  for await (const batch of invocationBatches(path)) rows += batch.length;
  return rows;
}

/**
 * The run's rows in order, about a thousand at a time: where each row was (its `line`
 * cell: a number, or `file:line` for a multi-file input, as written) and its
 * flowInvocationId. A file name may hold commas, quotes and line breaks, so the file is
 * read as CSV (invocations-reader.ts). Anything but the two columns with a well-formed id
 * is refused, not skipped.
 */
export async function* invocationBatches(path: string): AsyncGenerator<Invocation[]> {
  let header = true;
  let record = 0;
  try {
    for await (const records of invocationRecords(path)) {
      const batch: Invocation[] = [];
      for (const [line, id] of records) {
        record++;
        if (header) {
          header = false;
          if (line !== 'line' || id !== 'flowInvocationId') throw new Error('header');
          continue;
        }
        if (!ID_PATTERN.test(id)) throw new Error('id');
        batch.push({ line, id });
      }
      if (batch.length > 0) yield batch;
    }
    if (header) throw new Error('header');
  } catch (error) {
    if (error instanceof AtomicBulkError) throw error;
    const at = error instanceof MalformedInvocations ? error.record : record;
    throw new AtomicBulkError(
      'USAGE',
      `${INVOCATIONS_FILE} is not as atomic-bulk writes it (record ${at}).`,
      { hint: 'Restore the report folder as the send wrote it.' },
      error,
    );
  }
}

/** The run's rows in order, one at a time (invocationBatches for the hot loops). */
export async function* invocations(path: string): AsyncGenerator<Invocation> {
  for await (const batch of invocationBatches(path)) yield* batch;
}

/**
 * The run's rows read beside another stream in the same order (the rows' results): `take`
 * hands the next row without a wait while the batch lasts; `more` reads the next batch.
 */
export class InvocationCursor {
  private batch: Invocation[] = [];
  private at = 0;
  private readonly blocks: AsyncIterator<Invocation[]>;

  constructor(path: string) {
    this.blocks = invocationBatches(path)[Symbol.asyncIterator]();
  }

  /** The next row, or undefined when the batch is used up (then `more`). */
  take(): Invocation | undefined {
    return this.batch[this.at++];
  }

  /** Reads the next batch; false at the end of the file. */
  async more(): Promise<boolean> {
    const next = await this.blocks.next();
    if (next.done === true) return false;
    this.batch = next.value;
    this.at = 0;
    return true;
  }

  /** Stops reading early (closes the file). */
  async close(): Promise<void> {
    await this.blocks.return?.();
  }
}

/**
 * When the run was first started (ms), less CLOCK_SKEW_MS: cards created before belong to
 * earlier sends of the same ids (delivery.ts). A card of this run is created
 * after its upload, which follows the whole validating pass, so the margin only has to
 * cover the skew between this machine's clock and Atomic's (docs/decisions.md).
 */
export function runStartedAt(run: SentRun): number | null {
  const first = run.report.destination?.resumedFrom ?? run.report.startedAt;
  const at = Date.parse(first);
  return Number.isNaN(at) ? null : at - CLOCK_SKEW_MS;
}

const CLOCK_SKEW_MS = 5000;
