/**
 * invocations.csv read back: `line,flowInvocationId` records as the send wrote them (LF
 * line ends, a field quoted when it holds a comma, a quote or a line break, quotes doubled
 * inside), and nothing else. Reconcile and cancel read the file two or three times a
 * look, so it is scanned a byte at a time over 1 MiB blocks and handed on a batch of
 * records at a time, not through a general CSV parser's stream of arrays. Strict: two
 * fields a record, a quote only where a quoted field starts and ends, at most 64 KiB a
 * record; anything else is an error naming the record, never a skipped row.
 */
import { open } from 'node:fs/promises';

export interface Invocation {
  /** Where the row was: a line number, or `file:line` for a multi-file input. */
  line: string;
  id: string;
}

const READ_BYTES = 1 << 20;
/**
 * Records handed on at a time: a batch is consumed before the next is made, so its
 * strings die young rather than a block's worth surviving into the old generation.
 */
const BATCH = 1024;
export const MAX_RECORD_BYTES = 1 << 16;
const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** A record that is not as the send writes it; `record` counts from 1, the header included. */
export class MalformedInvocations extends Error {
  constructor(
    readonly record: number,
    why: string,
  ) {
    super(why);
  }
}

/** A block being read: `buf[0, end)`, `last` when no bytes follow it. */
interface Block {
  buf: Buffer;
  end: number;
  last: boolean;
  /** Records read before this block's (the header included). */
  records: number;
}

/** Where one field ended: its text, and the offset just past it (at a delimiter or the end). */
interface Field {
  text: string;
  next: number;
}

/** The field from `at`, or null when the block ends inside it and more bytes follow. */
function field(b: Block, at: number): Field | null {
  const { buf, end } = b;
  if (at < end && buf[at] === QUOTE) return quoted(b, at + 1);
  let k = at;
  while (k < end) {
    const c = buf[k] as number;
    if (c === COMMA || c === LF || c === CR) return { text: buf.toString('utf8', at, k), next: k };
    if (c === QUOTE)
      throw new MalformedInvocations(b.records + 1, 'a quote inside an unquoted field');
    k++;
  }
  return b.last ? { text: buf.toString('utf8', at, end), next: end } : null;
}

function quoted(b: Block, from: number): Field | null {
  const { buf, end } = b;
  let k = from;
  let doubled = false;
  for (;;) {
    const q = buf.indexOf(QUOTE, k);
    if (q === -1 || q >= end) {
      if (b.last) throw new MalformedInvocations(b.records + 1, 'a quoted field never closed');
      return null;
    }
    if (q + 1 >= end && !b.last) return null;
    if (q + 1 < end && buf[q + 1] === QUOTE) {
      doubled = true;
      k = q + 2;
      continue;
    }
    const after = q + 1 < end ? (buf[q + 1] as number) : LF;
    if (after !== COMMA && after !== LF && after !== CR)
      throw new MalformedInvocations(b.records + 1, 'text after a closing quote');
    const raw = buf.toString('utf8', from, q);
    return { text: doubled ? raw.replaceAll('""', '"') : raw, next: q + 1 };
  }
}

/** Past the line end at `at` (LF, CRLF, or the end of the file); null when more bytes are needed. */
function recordEnd(b: Block, at: number): number | null {
  const { buf, end } = b;
  if (at >= end) return b.last ? end : null;
  if (buf[at] === LF) return at + 1;
  if (buf[at] === CR) {
    if (at + 1 >= end) return b.last ? end : null;
    if (buf[at + 1] === LF) return at + 2;
  }
  throw new MalformedInvocations(b.records + 1, 'not two fields');
}

/**
 * Up to BATCH whole records of the block from `at` into `out`; returns where its unread
 * rest starts.
 */
function records(b: Block, from: number, out: [string, string][]): number {
  let at = from;
  while (at < b.end && out.length < BATCH) {
    const first = field(b, at);
    if (first === null) break;
    if (first.next >= b.end || b.buf[first.next] !== COMMA) {
      if (first.next >= b.end && !b.last) break;
      throw new MalformedInvocations(b.records + 1, 'not two fields');
    }
    const second = field(b, first.next + 1);
    if (second === null) break;
    const next = recordEnd(b, second.next);
    if (next === null) break;
    if (next - at > MAX_RECORD_BYTES)
      throw new MalformedInvocations(b.records + 1, 'a record over 64 KiB');
    out.push([first.text, second.text]);
    b.records++;
    at = next;
  }
  return at;
}

/**
 * The records of `path`, up to BATCH at a time (the header is the first record). Memory
 * is one read block plus a batch of records.
 */
export async function* invocationRecords(path: string): AsyncGenerator<[string, string][]> {
  const handle = await open(path, 'r');
  const buf = Buffer.allocUnsafe(READ_BYTES);
  const block: Block = { buf, end: 0, last: false, records: 0 };
  try {
    while (!block.last) {
      const { bytesRead } = await handle.read(buf, block.end, buf.length - block.end, null);
      block.end += bytesRead;
      block.last = bytesRead === 0;
      let rest = 0;
      for (;;) {
        const out: [string, string][] = [];
        rest = records(block, rest, out);
        if (out.length === 0) break;
        yield out;
      }
      const left = block.end - rest;
      if (left > MAX_RECORD_BYTES)
        throw new MalformedInvocations(block.records + 1, 'a record over 64 KiB');
      buf.copy(buf, 0, rest, block.end);
      block.end = left;
    }
  } finally {
    await handle.close();
  }
}
