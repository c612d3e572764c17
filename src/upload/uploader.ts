/**
 * Uploads one part file to a presigned target: a POST as multipart/form-data with every
 * field first and the file last as `file`, or a PUT of the raw bytes. The file is
 * streamed from disk with an exact Content-Length; S3 rejects chunked uploads. The
 * answer is classified, never retried here: the upload stage decides.
 */
import { randomBytes } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { deadline } from '../model/deadline.js';
import { describeNetworkError, printable, redact, safeUrl } from '../model/redact.js';
import { MAX_UPLOAD_BODY_BYTES, readBody } from '../api/transport.js';
import { retryAfterMs } from '../model/retry.js';
import type { UploadTarget } from '../model/upload-target.js';

export type UploadOutcome =
  | { kind: 'accepted'; status: number }
  /** The URL or its policy expired: get a new one, never retry this one. */
  | { kind: 'expired'; status: number; detail: string }
  /** Worth another attempt (429, 5xx, network, timeout). */
  | { kind: 'retryable'; status: number | null; detail: string; retryAfterMs: number | null }
  /** Retrying will not help (400, 404, other 4xx). */
  | { kind: 'refused'; status: number; detail: string };

export interface UploadRequest {
  target: UploadTarget;
  path: string;
  /** Give up on this attempt after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The clock (ms since the epoch) the answer is judged by: URL expiry, Retry-After. */
  now?: () => number;
}

/** S3's error code and message from an XML error body. */
export function s3Error(body: string): { code: string | null; message: string | null } {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? null;
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? null;
  return { code, message };
}

/**
 * True when the answer means the URL, its signature time or its POST policy expired:
 * S3 says "expired" (Policy expired, Request has expired, ExpiredToken), or it denies
 * access to a URL whose expiry time has passed on our clock. Any other AccessDenied
 * (a tampered field, a wrong signature) is a refusal: a new URL would not fix it.
 */
export function isExpiry(status: number, body: string, pastExpiry: boolean): boolean {
  if (status !== 403 && status !== 400) return false;
  const { code, message } = s3Error(body);
  const text = `${code ?? ''} ${message ?? ''}`.toLowerCase();
  if (code === 'ExpiredToken' || code === 'RequestExpired' || text.includes('expired')) return true;
  return status === 403 && pastExpiry;
}

/** Quotes a multipart name the way browsers do: ", CR and LF percent-encoded. */
function formName(name: string): string {
  return name.replaceAll('"', '%22').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/** The bytes around the file in a multipart/form-data body: every field first, the file last. */
export function multipartFraming(
  fields: [string, string][],
  filename: string,
): { head: Buffer; tail: Buffer; contentType: string } {
  const boundary = `----atomic-bulk-${randomBytes(16).toString('hex')}`;
  let head = '';
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${formName(name)}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${formName(filename)}"\r\nContent-Type: text/csv\r\n\r\n`;
  return {
    head: Buffer.from(head),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** Chunk size for reading a part from disk while uploading it. */
const UPLOAD_CHUNK_BYTES = 1 << 20;
/** Chunk buffers per upload, used in turn. */
const RING = 3;

/**
 * A request body of `head`, the file, then `tail`, read from disk in 1 MiB chunks. Sent
 * with an explicit Content-Length, so it is not chunked (S3 refuses that), and in few
 * enough chunks that a busy event loop (the next part being cut) does not starve it.
 *
 * The chunk buffers are recycled, so an upload allocates 3 MiB, not a part's size in
 * garbage. That is safe because the stream has no read-ahead (high-water mark 0: a chunk
 * is read only when the HTTP client asks for one) and the client waits for the socket to
 * drain each 1 MiB write, far above the socket's high-water mark, before it asks for the
 * next; a buffer is refilled two chunks after it was written. Uploads are checked
 * byte for byte against real S3 servers in the tests.
 */
function fileBody(
  path: string,
  head: Buffer | null,
  tail: Buffer | null,
): ReadableStream<Uint8Array> {
  let handle: FileHandle | null = null;
  let stage: 'head' | 'file' | 'tail' | 'done' = head === null ? 'file' : 'head';
  const ring: Buffer[] = [];
  let turn = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (stage === 'head') {
          stage = 'file';
          controller.enqueue(head as Buffer);
          return;
        }
        if (stage === 'file') {
          handle ??= await open(path, 'r');
          turn = (turn + 1) % RING;
          const chunk = (ring[turn] ??= Buffer.allocUnsafe(UPLOAD_CHUNK_BYTES));
          const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
          if (bytesRead > 0) {
            controller.enqueue(chunk.subarray(0, bytesRead));
            return;
          }
          await handle.close();
          handle = null;
          stage = tail === null ? 'done' : 'tail';
        }
        if (stage === 'tail') {
          stage = 'done';
          controller.enqueue(tail as Buffer);
          return;
        }
        controller.close();
      },
      async cancel() {
        await handle?.close();
      },
    },
    { highWaterMark: 0 },
  );
}

export async function uploadPart(request: UploadRequest): Promise<UploadOutcome> {
  const { target } = request;
  const limit = deadline(request.timeoutMs, request.signal);
  try {
    return await send(request, target, limit.signal);
  } finally {
    limit.done();
  }
}

async function send(
  request: UploadRequest,
  target: UploadTarget,
  signal: AbortSignal,
): Promise<UploadOutcome> {
  const size = (await stat(request.path)).size;
  let response: Response;
  try {
    if (target.method === 'POST') {
      const { head, tail, contentType } = multipartFraming(target.fields, basename(request.path));
      response = await fetch(target.url, {
        method: 'POST',
        body: fileBody(request.path, head, tail),
        duplex: 'half',
        redirect: 'manual',
        headers: {
          'Content-Type': contentType,
          'Content-Length': String(head.length + size + tail.length),
        },
        signal,
      });
    } else {
      response = await fetch(target.url, {
        method: 'PUT',
        body: fileBody(request.path, null, null),
        duplex: 'half',
        redirect: 'manual',
        headers: { 'Content-Type': 'text/csv', 'Content-Length': String(size) },
        signal,
      });
    }
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    return {
      kind: 'retryable',
      status: null,
      detail: `${describeNetworkError(error)} uploading to ${printable(safeUrl(target.url))}`,
      retryAfterMs: null,
    };
  }
  const body = await readBody(response, MAX_UPLOAD_BODY_BYTES, 'upload', true).catch(() => '');
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: 'accepted', status };
  const { code, message } = s3Error(body);
  const detail = printable(
    redact(`HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`),
  ).slice(0, 500);
  const now = (request.now ?? Date.now)();
  if (isExpiry(status, body, now >= target.expiresAt.getTime()))
    return { kind: 'expired', status, detail };
  if (status === 429 || status >= 500 || code === 'SlowDown' || code === 'RequestTimeout') {
    return {
      kind: 'retryable',
      status,
      detail,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now),
    };
  }
  return { kind: 'refused', status, detail };
}
