/**
 * Events of Atomic's analytics export, read tolerantly (SPEC 6.1): NDJSON, one event per
 * line, or CSV with a header. The event's name is under `analyticsEvent`, `event`, `name`
 * or `type`; the flowInvocationId at the top level or under `properties`, `payload` or
 * `metadata`; the time under `timestamp`, `time`, `createdAt` or `eventTime`. Events of
 * other names are counted and passed over; a line that cannot be read is counted, and
 * the keys (never the values) of the first one are kept for the report.
 */
import { parse } from 'csv-parse';
import { feed } from '../files/feed.js';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';
import { EventScanner } from './event-scan.js';

/** Event kinds as the join stores them (one byte). */
export const EVENT_KIND = {
  'card-published': 1,
  'card-error': 2,
  'card-cancelled': 3,
  'card-expired': 4,
  'card-embargoed': 5,
  'card-displayed': 6,
  'card-completed': 7,
  'card-dismissed': 8,
} as const;
export type EventName = keyof typeof EVENT_KIND;
const KINDS = new Map<string, number>(Object.entries(EVENT_KIND));

/** A line longer than this is not an event (it is counted as unreadable and skipped). */
export const MAX_EVENT_LINE_BYTES = 1 << 20;

export interface EventStats {
  lines: number;
  /** Events of a known kind with an id and a time. */
  events: number;
  /** Events of kinds that tell nothing about a row's outcome or engagement. */
  otherKinds: number;
  /** Known events without a flowInvocationId (not of a flow) or without a readable time. */
  withoutId: number;
  unreadable: number;
  /** Keys of the first unreadable line, or null. */
  unreadableKeys: string | null;
}

export function emptyStats(): EventStats {
  return { lines: 0, events: 0, otherKinds: 0, withoutId: 0, unreadable: 0, unreadableKeys: null };
}

export type EventSink = (kind: number, id: string, at: number) => void | Promise<void>;

const NAME_KEYS = ['analyticsEvent', 'event', 'name', 'type', 'eventName'];
const TIME_KEYS = ['timestamp', 'time', 'createdAt', 'eventTime', 'created'];
const ID_HOLDERS = ['properties', 'payload', 'metadata'];

function pick(o: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

function idOf(o: Record<string, unknown>): unknown {
  if (typeof o.flowInvocationId === 'string') return o.flowInvocationId;
  for (const holder of ID_HOLDERS) {
    const inner = o[holder];
    if (inner !== null && typeof inner === 'object') {
      const id = (inner as Record<string, unknown>).flowInvocationId;
      if (typeof id === 'string') return id;
    }
  }
  return undefined;
}

/** ms since the epoch from an ISO text or a number (seconds below 10^11, else ms). */
export function eventTime(value: unknown): number | null {
  if (typeof value === 'number')
    return Number.isFinite(value) ? (value < 1e11 ? value * 1000 : value) : null;
  if (typeof value !== 'string' || value === '') return null;
  if (/^\d+(\.\d+)?$/.test(value)) return eventTime(Number(value));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at;
}

function keysText(value: unknown): string {
  if (value === null || typeof value !== 'object') return `(${typeof value})`;
  return Object.keys(value)
    .slice(0, 16)
    .map((k) => printable(k.slice(0, 64)))
    .join(', ');
}

/** Reads one event object into the sink; counts what it cannot use. */
function take(
  o: Record<string, unknown>,
  stats: EventStats,
  each: EventSink,
): void | Promise<void> {
  const name = pick(o, NAME_KEYS);
  if (typeof name !== 'string') {
    stats.unreadable++;
    stats.unreadableKeys ??= keysText(o);
    return;
  }
  const kind = KINDS.get(name);
  if (kind === undefined) {
    stats.otherKinds++;
    return;
  }
  const id = idOf(o);
  const at = eventTime(pick(o, TIME_KEYS));
  if (typeof id !== 'string' || id === '' || at === null) {
    stats.withoutId++;
    return;
  }
  stats.events++;
  return each(kind, id, at);
}

/** NDJSON lines into the sink: scanned where they can be (event-scan.ts), else parsed. */
class NdjsonLines {
  private readonly scanner = new EventScanner([...NAME_KEYS, ...TIME_KEYS], [...KINDS.keys()]);

  constructor(
    private readonly stats: EventStats,
    private readonly each: EventSink,
  ) {}

  line(buf: Buffer, start: number, end: number): void | Promise<void> {
    if (start === end || (end - start === 1 && buf[start] === 13)) return;
    const stats = this.stats;
    stats.lines++;
    const scanned = this.scanner.scan(buf, start, end);
    // A line without a readable name is parsed whole: the report names its keys.
    if (scanned !== null && typeof pick(scanned, NAME_KEYS) === 'string')
      return take(scanned, stats, this.each);
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      stats.unreadable++;
      stats.unreadableKeys ??= '(not JSON)';
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      stats.unreadable++;
      stats.unreadableKeys ??= keysText(value);
      return;
    }
    return take(value as Record<string, unknown>, stats, this.each);
  }

  /** A line over MAX_EVENT_LINE_BYTES: counted once, not read. */
  tooLong(): void {
    this.stats.lines++;
    this.stats.unreadable++;
    this.stats.unreadableKeys ??= '(a line over 1 MiB)';
  }
}

/**
 * Reads an NDJSON export file, a line at a time, in bounded memory: lines are read in
 * place in the downloaded chunks; only a line split between two chunks is copied, into
 * one buffer kept for the file (grown to the longest such line, at most 1 MiB).
 */
export async function readNdjson(
  chunks: AsyncIterable<Uint8Array>,
  stats: EventStats,
  each: EventSink,
): Promise<void> {
  const lines = new NdjsonLines(stats, each);
  const carry = new Carry();
  for await (const chunk of chunks) {
    // A view of the chunk, not a copy (fetch hands out Uint8Arrays).
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    let nl = view.indexOf(10);
    if (!carry.empty && nl !== -1) {
      carry.append(view, 0, nl);
      const pending = carry.line(lines);
      if (pending !== undefined) await pending;
      start = nl + 1;
      nl = view.indexOf(10, start);
    }
    while (nl !== -1) {
      const pending = lines.line(view, start, nl);
      if (pending !== undefined) await pending;
      start = nl + 1;
      nl = view.indexOf(10, start);
    }
    carry.append(view, start, view.length);
  }
  const pending = carry.line(lines);
  if (pending !== undefined) await pending;
}

/** The start of a line whose end is in a later chunk. */
class Carry {
  private buf: Buffer | null = null;
  private used = 0;
  private skipping = false;
  empty = true;

  append(from: Buffer, start: number, end: number): void {
    if (start === end) return;
    this.empty = false;
    if (this.skipping) return;
    if (this.used + end - start > MAX_EVENT_LINE_BYTES) {
      this.skipping = true;
      return;
    }
    const need = this.used + end - start;
    if (this.buf === null || need > this.buf.length) {
      // Grown as lines need it: an event is a few hundred bytes, and an export of many
      // files would otherwise take a fresh megabyte per file from the allocator.
      const grown = Buffer.allocUnsafe(Math.min(MAX_EVENT_LINE_BYTES, Math.max(1024, need * 2)));
      this.buf?.copy(grown, 0, 0, this.used);
      this.buf = grown;
    }
    this.used += from.copy(this.buf, this.used, start, end);
  }

  /** The carried line, now whole, into `lines`; the carry is empty after. */
  line(lines: NdjsonLines): void | Promise<void> {
    if (this.empty) return;
    const { skipping, used } = this;
    this.empty = true;
    this.skipping = false;
    this.used = 0;
    if (skipping) return lines.tooLong();
    return lines.line(this.buf as Buffer, 0, used);
  }
}

/** Reads a CSV export file (a header naming the fields), in bounded memory. */
export async function readCsvEvents(
  chunks: AsyncIterable<Uint8Array>,
  stats: EventStats,
  each: EventSink,
): Promise<void> {
  const parser = parse({
    bom: true,
    columns: (header: string[]) =>
      header.map((h) => h.trim().replace(/^(properties|payload|metadata)[._]/, '')),
    relax_column_count: true,
    max_record_size: MAX_EVENT_LINE_BYTES,
    skip_empty_lines: true,
  });
  const feeding = feed(chunks, parser);
  feeding.catch((error: unknown) => parser.destroy(error as Error));
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      stats.lines++;
      await take(record, stats, each);
    }
  } catch (error) {
    if (error instanceof AtomicBulkError) throw error;
    throw new AtomicBulkError(
      'API',
      `An analytics export file is not CSV atomic-bulk can read (${printable(errorCode(error)).slice(0, 60)}).`,
      { operation: 'GET analytics export file' },
    );
  } finally {
    await feeding.catch(() => undefined);
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unreadable';
}
