/**
 * invocations.csv: `line,flowInvocationId` for every sent row, in input order, so the
 * sends can be reconciled later through Atomic's APIs. Built from the id files the
 * splitter writes next to each part (about 50 bytes a row), each checked against the
 * digest the sealed run state recorded for it; the file's own digest and row count go
 * into the sealed report, so reconcile and cancel can tell it is this run's.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AtomicBulkError } from '../model/errors.js';
import type { LineMap } from '../model/line-map.js';
import { neutralise } from '../model/neutralise.js';
import { csvField } from './rejected-csv.js';
import type { ReportDir } from './report-dir.js';

/** One uploaded part's id file, and the digest the run state recorded for it. */
export interface IdFile {
  part: number;
  path: string;
  sha256: string | null;
}

export interface WrittenInvocations {
  name: string;
  sha256: string;
  rows: number;
}

export async function writeInvocations(
  dir: ReportDir,
  idFiles: readonly IdFile[],
  lines?: LineMap,
): Promise<WrittenInvocations> {
  const name = 'invocations.csv';
  const out = new DigestingWriter(dir.stream(name));
  try {
    await out.write('line,flowInvocationId\n');
    for (const file of idFiles) await copyIds(file, out, lines?.multiFile === true ? lines : null);
    await out.end();
  } catch (error) {
    await out.destroy();
    await dir.abandon(name);
    throw error;
  }
  await dir.commit(name);
  return { name, sha256: out.digest(), rows: out.rows };
}

/**
 * Copies one id file, checking it is the file the run state recorded. For a multi-file
 * input the line column becomes `file:line` (model/line-map.ts).
 */
async function copyIds(file: IdFile, out: DigestingWriter, lines: LineMap | null): Promise<void> {
  const hash = createHash('sha256');
  try {
    if (lines === null) await copyIdBytes(file.path, hash, out);
    else await copyIdLines(file.path, hash, out, lines);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (file.sha256 !== null && hash.digest('hex') !== file.sha256)
    throw new AtomicBulkError(
      'STATE',
      `The id file of part ${file.part} is missing or is not the one this run wrote; invocations.csv was not written.`,
      { hint: 'Restore the run state as atomic-bulk wrote it.' },
    );
}

/**
 * A one-file input's id lines are invocations.csv's as they are: copied as bytes, in the
 * file's chunks, without a string per row (empty lines dropped, a last line ended).
 */
async function copyIdBytes(path: string, hash: Hash, out: DigestingWriter): Promise<void> {
  let carried = false;
  for await (const read of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const chunk = read as Buffer;
    hash.update(chunk);
    // Written in spans between empty lines: one write per chunk when there are none.
    let span = 0;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (nl > start || carried) out.rows++;
      else {
        if (nl > span) await out.writeBytes(chunk.subarray(span, nl));
        span = nl + 1;
      }
      carried = false;
      start = nl + 1;
    }
    if (start < chunk.length) carried = true;
    if (span < chunk.length) await out.writeBytes(chunk.subarray(span));
  }
  if (carried) {
    out.rows++;
    await out.write('\n');
  }
}

async function copyIdLines(
  path: string,
  hash: Hash,
  out: DigestingWriter,
  lines: LineMap,
): Promise<void> {
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  const tap = async function* () {
    for await (const chunk of input) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  };
  for await (const text of createInterface({
    input: Readable.from(tap()),
    crlfDelay: Infinity,
  })) {
    if (text === '') continue;
    const comma = text.indexOf(',');
    out.row(`${located(lines, text.slice(0, comma))}${text.slice(comma)}\n`);
    if (out.pending >= 64 << 10) await out.flush();
  }
  await out.flush();
}

function located(lines: LineMap, line: string): string {
  return csvField(neutralise(lines.cell(Number(line))));
}

/** A write stream that counts data rows and hashes every byte it is given. */
class DigestingWriter {
  private readonly hash = createHash('sha256');
  private buffered: string[] = [];
  pending = 0;
  rows = 0;

  constructor(private readonly out: WriteStream) {}

  row(text: string): void {
    this.buffered.push(text);
    this.pending += text.length;
    this.rows++;
  }

  async write(text: string): Promise<void> {
    this.hash.update(text);
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async writeBytes(bytes: Buffer): Promise<void> {
    this.hash.update(bytes);
    if (!this.out.write(bytes)) await once(this.out, 'drain');
  }

  async flush(): Promise<void> {
    const text = this.buffered.join('');
    this.buffered = [];
    this.pending = 0;
    if (text !== '') await this.write(text);
  }

  end(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
  }

  /**
   * Stops writing, once its file is closed: a write still in flight then fails into this
   * listener rather than into nobody's (an uncaught error), and the file is not created
   * after the caller removed it.
   */
  async destroy(): Promise<void> {
    this.out.on('error', () => undefined);
    if (this.out.closed) return;
    // Not events.once: it would reject on the error this listener swallows.
    const closed = new Promise<void>((resolve) => this.out.once('close', () => resolve()));
    this.out.destroy();
    await closed;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
