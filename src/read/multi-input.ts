/**
 * Several files that share one header, read as one campaign (SPEC 4): the way warehouses
 * export — Snowflake and Redshift unloads, BigQuery shards, a Spark directory of part
 * files. A pass yields the first file with its header, then every later file without its
 * header, each file preceded by a FileStart mark so the reader can end a file's last
 * record there and map lines back to `file:line` (model/line-map.ts).
 *
 * Per file: gzip is decompressed (each shard on its own), a UTF-8 byte-order mark is
 * dropped, the header must equal the first file's (a located INPUT error naming both
 * files otherwise), an empty file or a header-only file adds no rows, and a newline is
 * put between two files when the first does not end with one, so its last row never runs
 * into the next file's first. The bytes that reach the reader are therefore exactly the one CSV a
 * careful person would have made by concatenating the files: the same run id.
 */
import { AtomicBulkError } from '../model/errors.js';
import { FileStart, LineMap } from '../model/line-map.js';
import { printable } from '../model/redact.js';
import { DecompressingInput } from './decompress.js';
import type { ByteSource, InputSource } from './source.js';

export interface InputFile {
  name: string;
  /** Opens the file's raw bytes; called once, on the first pass. */
  open(): Promise<ByteSource>;
}

/** A header longer than this is not a CSV header. */
const MAX_HEADER_BYTES = 1 << 20;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

export class MultiInput implements InputSource {
  readonly lines = new LineMap();
  private readonly opened = new Map<number, DecompressingInput>();

  constructor(
    /** How the user named the input: the arguments as shell words, joined by spaces. */
    readonly name: string,
    private readonly inputs: readonly InputFile[],
  ) {}

  get files(): string[] {
    return this.inputs.map((f) => f.name);
  }

  /** Decompressed sizes are not known before reading. */
  get size(): null {
    return null;
  }

  async close(): Promise<void> {
    const sources = [...this.opened.values()];
    this.opened.clear();
    await Promise.all(sources.map((s) => s.close()));
  }

  async *read(): AsyncGenerator<Buffer | FileStart> {
    const seen: { first: { name: string; fields: string[] } | null } = { first: null };
    /** The newline the last file did not end with, owed once another file follows. */
    let owed: Buffer | null = null;
    for (let index = 0; index < this.inputs.length; index++) {
      const file = this.inputs[index] as InputFile;
      const source = await this.source(index, file);
      const reading = new FileReading(source.name, seen.first === null);
      const pass = function* (outs: Iterable<Buffer | typeof HEADER_DONE>) {
        for (const out of outs) {
          if (out !== HEADER_DONE) {
            yield out;
            continue;
          }
          const fields = parseHeader(reading.header);
          const isFirst = seen.first === null;
          if (seen.first === null) seen.first = { name: file.name, fields };
          else compareHeaders(seen.first, file.name, fields);
          if (owed !== null) yield owed;
          owed = null;
          // The first file keeps its header: its lines start at 1.
          yield new FileStart(index, file.name, isFirst ? 1 : reading.headerLines + 1);
        }
      };
      for await (const chunk of source.read()) yield* pass(reading.push(chunk));
      yield* pass(reading.end());
      owed = reading.owedNewline() ?? owed;
    }
  }

  private async source(index: number, file: InputFile): Promise<DecompressingInput> {
    let source = this.opened.get(index);
    if (source === undefined) {
      source = new DecompressingInput(await file.open());
      this.opened.set(index, source);
    }
    return source;
  }
}

const HEADER_DONE = Symbol('header done');

/**
 * One file's bytes on their way through a pass: byte-order mark, header, body, and the
 * newline it owes the next file if it does not end with one. The first file keeps its
 * header (and its mark, which the reader strips and reports); later files lose both.
 */
class FileReading {
  /** The header's bytes without byte-order mark and terminator, once complete. */
  header = Buffer.alloc(0);
  /** Physical lines the header took (more than one only with quoted line breaks). */
  headerLines = 1;
  private phase: 'mark' | 'header' | 'body' = 'mark';
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The header ended with CRLF: the newline added at the end is one too. */
  private crlf = false;
  private last = -1;
  private emitted = false;

  constructor(
    private readonly name: string,
    private readonly keepHeader: boolean,
  ) {}

  /** What to pass on for `chunk`: bytes (copied where kept), and HEADER_DONE once. */
  *push(chunk: Buffer): Generator<Buffer | typeof HEADER_DONE> {
    if (chunk.length === 0) return;
    if (this.phase === 'body') {
      yield* this.emit(chunk);
      return;
    }
    this.held.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    if (this.phase === 'mark') {
      if (this.heldBytes < 4) return;
      this.phase = 'header';
    }
    yield* this.scanHeader(false);
  }

  /** The end of the file: a header without terminator. */
  *end(): Generator<Buffer | typeof HEADER_DONE> {
    if (this.phase === 'body' || this.heldBytes === 0) return; // read, or an empty file
    yield* this.scanHeader(true);
  }

  /**
   * The newline to put before the next file's rows when this file did not end with one,
   * so its last row never runs into them (CRLF when its header ended with CRLF). Only owed
   * between files: the last file is read as it is, as one file would be.
   */
  owedNewline(): Buffer | null {
    if (!this.emitted || this.last === LF || this.last === CR) return null;
    return Buffer.from(this.crlf ? '\r\n' : '\n');
  }

  private *scanHeader(atEnd: boolean): Generator<Buffer | typeof HEADER_DONE> {
    const all = Buffer.concat(this.held);
    const bom = UTF8_BOM.every((b, i) => all[i] === b) ? 3 : 0;
    if (bom === 0) foreignMark(all, this.name);
    let i = bom;
    let lines = 1;
    let quoted = false;
    let end = -1;
    let next = -1;
    for (; i < all.length; i++) {
      const c = all[i];
      if (c === QUOTE) quoted = !quoted;
      else if (c === LF || c === CR) {
        if (c === CR && i + 1 === all.length && !atEnd) break; // wait for the byte after CR
        const crlf = c === CR && all[i + 1] === LF;
        if (quoted) {
          lines++;
          if (crlf) i++;
          continue;
        }
        end = i;
        next = crlf ? i + 2 : i + 1;
        this.crlf = crlf;
        break;
      }
    }
    if (end < 0 && !atEnd) {
      if (all.length - bom > MAX_HEADER_BYTES)
        throw new AtomicBulkError(
          'INPUT',
          `Input ${this.name} has no header line within its first ${MAX_HEADER_BYTES.toLocaleString('en-US')} bytes.`,
          { hint: 'Every file of a multi-file input starts with the same CSV header.' },
        );
      this.held = [all];
      return;
    }
    if (end < 0) {
      end = all.length;
      next = all.length;
    }
    this.header = all.subarray(bom, end);
    this.headerLines = lines;
    this.held = [];
    this.heldBytes = 0;
    this.phase = 'body';
    yield HEADER_DONE;
    if (this.keepHeader) yield* this.emit(all);
    else if (next < all.length) yield* this.emit(all.subarray(next));
  }

  private *emit(bytes: Buffer): Generator<Buffer> {
    if (bytes.length === 0) return;
    this.emitted = true;
    this.last = bytes[bytes.length - 1] as number;
    yield bytes;
  }
}

/** A byte-order mark of an encoding atomic-bulk does not read, in a later file. */
function foreignMark(head: Buffer, name: string): void {
  const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
  const utf32 = head[0] === 0 && head[1] === 0 && head[2] === 0xfe && head[3] === 0xff;
  if (utf16 || utf32)
    throw new AtomicBulkError(
      'INPUT',
      `Input ${name} is ${utf16 ? 'UTF-16' : 'UTF-32'}, not UTF-8.`,
      {
        hint: 'Export every file as UTF-8 CSV.',
      },
    );
}

/** The header's column names (quotes removed); enough to compare two headers. */
export function parseHeader(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** What a campaign column is called (SPEC 2.1): quoting one of these discloses nothing. */
const HEADER_NAME =
  /^(target\.attributes|payload\.(variables|cardOptions|metadata|notificationDetail))\.[^\s]{1,200}$|^flowInvocationId$|^_line$|^_errors$/;

function compareHeaders(
  first: { name: string; fields: string[] },
  name: string,
  fields: string[],
): void {
  const a = first.fields;
  const at = a.findIndex((f, i) => f !== fields[i]);
  if (at < 0 && a.length === fields.length) return;
  // A name is quoted only when it looks like a campaign header name: either file may be
  // the one without a header, whose first line is a row of personal data.
  const reference = a[at];
  const why =
    at < 0 || at >= fields.length
      ? `it has ${fields.length} columns, ${first.name} has ${a.length}`
      : reference !== undefined && HEADER_NAME.test(reference)
        ? `column ${at + 1} differs from ${first.name}'s "${printable(reference)}"`
        : `column ${at + 1} differs from ${first.name}'s (neither looks like a campaign header name: is one of the files without a header?)`;
  throw new AtomicBulkError(
    'INPUT',
    `Input ${name}:1 has a different header from ${first.name}: ${why}.`,
    {
      hint: 'Every file of one campaign starts with the same header: the same columns in the same order. Export them together, with headers, or send them as separate campaigns.',
    },
  );
}
