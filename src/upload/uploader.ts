/**
 * Uploads one part file to a presigned target: a POST as multipart/form-data with every
 * field first and the file last as `file`, or a PUT of the raw bytes. The file is
 * streamed from disk (`openAsBlob`) with an exact Content-Length; S3 rejects chunked
 * uploads. The answer is classified, never retried here: the upload stage decides.
 */
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { describeNetworkError, redact, safeUrl } from '../model/redact.js';
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

export async function uploadPart(request: UploadRequest): Promise<UploadOutcome> {
  const { target } = request;
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
  const blob = await openAsBlob(request.path, { type: 'text/csv' });
  let response: Response;
  try {
    if (target.method === 'POST') {
      const form = new FormData();
      for (const [name, value] of target.fields) form.append(name, value);
      form.append('file', blob, basename(request.path));
      response = await fetch(target.url, { method: 'POST', body: form, signal });
    } else {
      response = await fetch(target.url, { method: 'PUT', body: blob, headers: { 'Content-Type': 'text/csv' }, signal });
    }
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    return { kind: 'retryable', status: null, detail: `${describeNetworkError(error)} uploading to ${safeUrl(target.url)}`, retryAfterMs: null };
  }
  const body = await response.text().catch(() => '');
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: 'accepted', status };
  const { code, message } = s3Error(body);
  const detail = redact(`HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`);
  if (isExpiry(status, body, Date.now() >= target.expiresAt.getTime())) return { kind: 'expired', status, detail };
  if (status === 429 || status >= 500 || code === 'SlowDown' || code === 'RequestTimeout') {
    const after = Number(response.headers.get('retry-after'));
    return { kind: 'retryable', status, detail, retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : null };
  }
  return { kind: 'refused', status, detail };
}
