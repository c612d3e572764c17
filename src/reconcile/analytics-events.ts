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
async function take(o: Record<string, unknown>, stats: EventStats, each: EventSink): Promise<void> {
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
  const pending = each(kind, id, at);
  if (pending !== undefined) await pending;
}

/** Reads an NDJSON export file, a line at a time, in bounded memory. */
export async function readNdjson(
  chunks: AsyncIterable<Uint8Array>,
  stats: EventStats,
  each: EventSink,
): Promise<void> {
  let rest: Buffer = Buffer.alloc(0);
  let skipping = false;
  const line = async (bytes: Buffer) => {
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 13)) return;
    stats.lines++;
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
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
    await take(value as Record<string, unknown>, stats, each);
  };
  for await (const chunk of chunks) {
    // A view of the chunk, not a copy (fetch hands out Uint8Arrays).
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let buf = rest.length === 0 ? view : Buffer.concat([rest, view]);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      if (skipping) skipping = false;
      else await line(buf.subarray(start, nl));
      start = nl + 1;
    }
    buf = buf.subarray(start);
    if (buf.length > MAX_EVENT_LINE_BYTES) {
      if (!skipping) {
        stats.lines++;
        stats.unreadable++;
        stats.unreadableKeys ??= '(a line over 1 MiB)';
      }
      skipping = true;
      buf = Buffer.alloc(0);
    }
    rest = Buffer.from(buf);
  }
  if (!skipping) await line(rest);
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
