/**
 * Atomic's hourly analytics export as the tool reads it (SPEC 6.1): the listing of
 * `GET /v1/{env}/analytics/batched?from=&to=&format=`, read tolerantly (an optional
 * `data` wrapper; files under `url`, `urls` or `files`), and the download of one file —
 * a signed URL, fetched without following redirects, its body streamed with an idle
 * timeout and a size cap. A listing that cannot be read is quoted by its keys, never its
 * values (the URLs are credentials).
 */
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';
import { safeUrl } from './http.js';

export type ExportFormat = 'ndjson' | 'csv';

/** One downloadable file of the export, and the period it covers when the answer says. */
export interface ExportFile {
  url: string;
  /** ms since the epoch; null when the answer did not say. */
  from: number | null;
  to: number | null;
  format: ExportFormat;
}

/** Files one listing may name: 30 days of hours is 720; more is not an export. */
export const MAX_EXPORT_FILES = 10_000;
/** Bytes one export file may have (a very large hour of events is a few GB). */
export const MAX_EXPORT_FILE_BYTES = 16 * 1024 ** 3;
/** Longest wait for the next bytes of a download. */
export const EXPORT_IDLE_MS = 60_000;

const keysOf = (value: unknown): string =>
  value !== null && typeof value === 'object'
    ? Object.keys(value)
        .slice(0, 12)
        .map((k) => printable(k))
        .join(', ')
    : typeof value;

function unreadable(value: unknown): AtomicBulkError {
  return new AtomicBulkError(
    'API',
    `The analytics export listing has a shape atomic-bulk cannot read (keys: ${keysOf(value)}).`,
    {
      operation: 'GET analytics export',
      hint: 'Run reconcile with --source cards, and report the keys above as an issue.',
    },
  );
}

function time(value: unknown): number | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const at = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(at) ? at : null;
}

function fileOf(item: unknown, format: ExportFormat): ExportFile | null {
  if (typeof item === 'string') return { url: item, from: null, to: null, format };
  if (item === null || typeof item !== 'object') return null;
  const o = item as Record<string, unknown>;
  const url = [o.url, o.href, o.downloadUrl, o.signedUrl].find((v) => typeof v === 'string');
  if (typeof url !== 'string') return null;
  const from = time(o.from ?? o.start ?? o.hour ?? o.startTime);
  const to =
    time(o.to ?? o.end ?? o.endTime) ??
    (from !== null && o.hour !== undefined ? from + 3_600_000 : null);
  return { url, from, to, format };
}

/** The files of a listing answer, checked to be URLs; throws on a shape it cannot read. */
export function readExportListing(body: unknown, format: ExportFormat): ExportFile[] {
  const root = body !== null && typeof body === 'object' && 'data' in body ? body.data : body;
  if (root === null || typeof root !== 'object') throw unreadable(body);
  const o = root as Record<string, unknown>;
  const list = Array.isArray(root)
    ? root
    : Array.isArray(o.files)
      ? o.files
      : Array.isArray(o.urls)
        ? o.urls
        : typeof o.url === 'string'
          ? [o.url]
          : null;
  if (list === null) throw unreadable(root);
  if (list.length > MAX_EXPORT_FILES)
    throw new AtomicBulkError(
      'API',
      `The analytics export listing names ${list.length} files, more than ${MAX_EXPORT_FILES}; it was not read.`,
      { operation: 'GET analytics export', fatal: true },
    );
  const seen = new Set<string>();
  const files = list.map((item) => {
    const file = fileOf(item, format);
    if (file === null) throw unreadable(item);
    let parsed: URL;
    try {
      parsed = new URL(file.url);
    } catch {
      throw unreadable(item);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw unreadable(item);
    return file;
  });
  // A file named twice is read once: its events would count twice (a cancelled card's
  // cancellation and publication alike, but a row's engagement counts would double).
  return files.filter((f) => {
    if (seen.has(f.url)) return false;
    seen.add(f.url);
    return true;
  });
}

/**
 * The body of one export file as a stream of chunks. No redirect is followed (the URL is
 * signed for one place); a pause longer than EXPORT_IDLE_MS, or more than
 * MAX_EXPORT_FILE_BYTES, ends it with an error. The URL's query string (its signature) is
 * never part of a message.
 */
export async function* downloadExportFile(
  url: string,
  signal?: AbortSignal,
  limits: { idleMs?: number; maxBytes?: number } = {},
): AsyncGenerator<Uint8Array> {
  const idleMs = limits.idleMs ?? EXPORT_IDLE_MS;
  const maxBytes = limits.maxBytes ?? MAX_EXPORT_FILE_BYTES;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer = setTimeout(() => controller.abort(), idleMs);
  const fail = (why: string, status?: number) =>
    new AtomicBulkError('API', `Downloading ${printable(safeUrl(url))}: ${why}.`, {
      operation: 'GET analytics export file',
      ...(status !== undefined ? { status } : {}),
    });
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        redirect: 'manual',
        signal: controller.signal,
        headers: { Accept: 'application/x-ndjson, text/csv, */*' },
      });
    } catch (error) {
      throw fail(controller.signal.aborted ? 'no answer in time' : (error as Error).message);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw fail(
        response.status >= 300 && response.status < 400
          ? `a redirect (HTTP ${response.status}); atomic-bulk does not follow redirects`
          : `HTTP ${response.status} (a download URL is valid for 15 minutes)`,
        response.status,
      );
    }
    if (response.body === null) return;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), idleMs);
    };
    yield* boundedBody(response.body, { maxBytes, idle, fail, controller });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The chunks of a body, up to `maxBytes`; `idle` restarts the idle timer at each. */
async function* boundedBody(
  body: ReadableStream<Uint8Array>,
  bounds: {
    maxBytes: number;
    idle: () => void;
    fail: (why: string) => AtomicBulkError;
    controller: AbortController;
  },
): AsyncGenerator<Uint8Array> {
  const { maxBytes, idle, fail, controller } = bounds;
  let seen = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await reader.read();
      } catch (error) {
        throw fail(controller.signal.aborted ? 'it stalled' : (error as Error).message);
      }
      const value = chunk.value;
      if (chunk.done || value === undefined) return;
      seen += value.length;
      if (seen > maxBytes) throw fail(`it is larger than ${maxBytes} bytes`);
      idle();
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
