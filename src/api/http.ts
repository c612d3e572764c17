/**
 * HTTP for the Atomic API: every request has an explicit timeout, a User-Agent, and
 * bounded retries with exponential backoff and full jitter for 429 (honouring
 * Retry-After), 5xx and network errors. Other statuses are returned to the caller, who
 * knows what they mean. The clock, sleep and randomness are injectable for tests.
 */
import { deadline } from '../model/deadline.js';
import { AtomicBulkError } from '../model/errors.js';
import { describeNetworkError, printable, redact, safeUrl } from '../model/redact.js';
import { MAX_API_BODY_BYTES, readBody } from './transport.js';
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryableStatus,
  mayRetry,
  retryAfterMs,
  sleep,
  type RetryPolicy,
} from '../model/retry.js';

export interface RetryEvent {
  operation: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface HttpOptions {
  userAgent: string;
  /** Timeout of one request, connection to last byte. Default 30 s. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Stops waits and requests when the run is interrupted. */
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** Called after every response, for --verbose: the URL has no query string. */
  onResponse?: (event: {
    operation: string;
    method: string;
    url: string;
    status: number;
    ms: number;
  }) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Names the call in messages, without secrets: "POST csv-task". */
  operation: string;
  /** False when the caller retries this request itself (csv-task: the upload stage). */
  retry?: boolean;
  /** Largest body read from the answer. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export class Http {
  private readonly options: HttpOptions;
  private readonly policy: RetryPolicy;

  constructor(options: HttpOptions) {
    this.options = options;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * Sends the request, retrying 429, 5xx and network errors within the retry policy.
   * Returns the last response, whatever its status; throws only when no response came.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const now = this.options.now ?? Date.now;
    const wait = this.options.sleep ?? sleep;
    const random = this.options.random ?? Math.random;
    const started = now();
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse | null = null;
      let failure: unknown = null;
      try {
        response = await this.once(request);
      } catch (error) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        if (error instanceof AtomicBulkError && error.context.fatal === true) throw error;
        failure = error;
      }
      if (response !== null && !isRetryableStatus(response.status)) return response;
      const serverSays =
        response === null ? null : retryAfterMs(response.headers.get('retry-after'), now());
      const delayMs = backoffMs(this.policy, attempt, random, serverSays);
      const reason = response !== null ? `HTTP ${response.status}` : describeNetworkError(failure);
      if (request.retry === false || !mayRetry(this.policy, attempt, now() - started, delayMs)) {
        if (response !== null) return response;
        throw new AtomicBulkError(
          'API',
          `${request.operation} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${reason}.`,
          {
            operation: request.operation,
            hint: 'Check the network and the base URL, then run again.',
          },
          failure,
        );
      }
      this.options.onRetry?.({ operation: request.operation, attempt, delayMs, reason });
      await wait(delayMs, this.options.signal);
    }
  }

  private async once(request: HttpRequest): Promise<HttpResponse> {
    const limit = deadline(this.options.requestTimeoutMs ?? 30_000, this.options.signal);
    const started = performance.now();
    let response: Response;
    let text: string;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: {
          'User-Agent': this.options.userAgent,
          Accept: 'application/json',
          ...request.headers,
        },
        body: request.body,
        signal: limit.signal,
        // A redirect could hand the request, and the upload URL it returns, to another origin.
        redirect: 'manual',
      });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        throw redirectError(request.operation, response);
      }
      text = await readBody(
        response,
        request.maxBodyBytes ?? MAX_API_BODY_BYTES,
        request.operation,
      );
    } finally {
      limit.done();
    }
    this.options.onResponse?.({
      operation: request.operation,
      method: request.method,
      url: safeUrl(request.url),
      status: response.status,
      ms: Math.round(performance.now() - started),
    });
    return { status: response.status, headers: response.headers, text };
  }
}

function redirectError(operation: string, response: Response): AtomicBulkError {
  const location = response.headers.get('location');
  let where = 'another location';
  if (location !== null) {
    try {
      where = printable(safeUrl(new URL(location, response.url || 'http://unknown').toString()));
    } catch {
      where = 'an unreadable location';
    }
  }
  return new AtomicBulkError(
    'API',
    `${operation}: the server answered with a redirect (HTTP ${response.status}) to ${where}; atomic-bulk does not follow redirects.`,
    {
      status: response.status,
      operation,
      fatal: true,
      hint: 'Use the API base URL and token URL exactly as the Workbench shows them (https://…).',
    },
  );
}

/** A response body fit for a message: secrets removed, control characters made visible, shortened. */
export function bodyDetail(text: string, limit = 500): string {
  const clean = printable(redact(text.trim()));
  return clean.length > limit ? `${clean.slice(0, limit)}…` : clean;
}

export { describeNetworkError, safeUrl };
