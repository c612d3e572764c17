/**
 * The run that reconcile and cancel work on: a `send` report folder (report.json and
 * invocations.csv), or a run id, found in the state directory and led back to the last
 * report folder a send of it wrote. The run must have been sent to the destination the
 * connection points at: checking one Atomic against another's ids would only mislead.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ApiDestination } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';
import type { Report } from '../model/report.js';

export interface SentRun {
  /** The report folder, local. */
  folder: string;
  report: Report;
  invocationsPath: string;
  /** Rows in invocations.csv: the run's sent rows. */
  rows: number;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() === true;
}

/** Finds and checks the run named by `target` (a report folder or a run id). */
export async function openSentRun(
  target: string,
  stateDir: string,
  destination: ApiDestination,
): Promise<SentRun> {
  const folder = (await isDirectory(target))
    ? resolve(target)
    : await folderOfRunId(target, stateDir, destination);
  let report: Report;
  try {
    report = JSON.parse(await readFile(join(folder, 'report.json'), 'utf8')) as Report;
  } catch {
    throw new AtomicBulkError('USAGE', `${printable(folder)} holds no readable report.json.`, {
      hint: 'Give the report folder of a send (it has report.json and invocations.csv), or its run id.',
    });
  }
  const invocationsFile = (report.files as Report['files'] | undefined)?.invocations ?? null;
  if (report.command !== 'send' || report.dryRun || invocationsFile === null)
    throw new AtomicBulkError(
      'USAGE',
      `${printable(folder)} is not the report of a send that uploaded rows${report.dryRun ? ' (it was a dry run)' : ''}.`,
      {
        hint: 'Reconcile and cancel work on a send that uploaded rows: it writes invocations.csv.',
      },
    );
  const sentTo = report.destination;
  if (
    sentTo == null ||
    sentTo.apiOrigin !== destination.apiOrigin ||
    sentTo.environmentId !== destination.environmentId
  )
    throw new AtomicBulkError(
      'USAGE',
      `This run was sent to ${sentTo == null ? 'an unknown destination' : `${sentTo.apiOrigin}, environment ${sentTo.environmentId}`}; the connection points at ${destination.apiOrigin}, environment ${destination.environmentId}.`,
      {
        hint: 'Set ATOMIC_BASE_URL and ATOMIC_ENVIRONMENT_ID (or the flags) to where the run was sent.',
      },
    );
  const invocationsPath = join(folder, invocationsFile);
  if ((await stat(invocationsPath).catch(() => null))?.isFile() !== true)
    throw new AtomicBulkError(
      'USAGE',
      `${printable(invocationsPath)} is missing: it is the list of the run's rows and their invocation ids.`,
      { hint: 'Restore the report folder as the send wrote it.' },
    );
  return { folder, report, invocationsPath, rows: await countRows(invocationsPath) };
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
  let rows = -1;
  for await (const line of lines(path)) if (line !== '') rows++;
  return Math.max(rows, 0);
}

function lines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path), crlfDelay: Infinity });
}

/**
 * The run's rows in order: where the row was (its `line` cell as written: a number, or
 * `file:line` for a multi-file input) and its flowInvocationId (invocations.csv). Ids
 * never hold a comma, so the last comma ends the line cell.
 */
export async function* invocations(path: string): AsyncGenerator<{ line: string; id: string }> {
  let header = true;
  for await (const text of lines(path)) {
    if (header) {
      header = false;
      continue;
    }
    if (text === '') continue;
    const comma = text.lastIndexOf(',');
    let id = text.slice(comma + 1);
    if (id.startsWith('"')) id = id.slice(1, -1).replaceAll('""', '"');
    yield { line: text.slice(0, comma), id };
  }
}
