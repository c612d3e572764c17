/**
 * The Atomic API client (SPEC 1): flows, flow configs and csv-task upload targets. Every
 * call carries a cached bearer token; a 401 refreshes it once and retries once. Errors
 * become AtomicBulkErrors with the status and the body, secrets removed.
 */
import { AtomicBulkError, type ErrorCode } from '../model/errors.js';
import { parseFlowConfig, type FlowConfig } from '../model/flow.js';
import type { SendMode } from '../model/report.js';
import { Sealer } from '../model/seal.js';
import type { UploadTarget } from '../model/upload-target.js';
import { USER_AGENT } from '../version.js';
import type { ConnectionSettings } from './connection.js';
import {
  cancelQuery,
  DEFAULT_CANCEL_PATH,
  listQuery,
  maxPageBytes,
  readCancelled,
  readCards,
  type CancelScope,
  type CardQuery,
  type CardSummary,
} from './cards.js';
import { readUploadTarget } from './csv-task.js';
import { retryAfterMs } from '../model/retry.js';
import { bodyDetail, Http, type HttpOptions, type HttpResponse } from './http.js';
import { readExportListing, type ExportFile, type ExportFormat } from './analytics.js';
import { checkUploadUrl, isLoopbackHost, MAX_FLOW_BODY_BYTES, type Lookup } from './transport.js';
import { TokenProvider } from './token.js';

export interface FlowSummary {
  id: string;
  name: string | null;
  description: string | null;
  status: string | null;
  created: string | null;
  updated: string | null;
  /** Variable names, when the list includes them. */
  variables: string[];
}

export interface FetchedFlowConfig {
  config: FlowConfig;
  version: number | string | null;
  status: string | null;
  /** The response as received, for `flows get`. */
  raw: unknown;
}

/** Where requests go: the API's origin and the environment (what binds a run's state). */
export interface ApiDestination {
  apiOrigin: string;
  environmentId: string;
}

/** What the pipelines need from Atomic; tests pass fakes of it. */
export interface AtomicApi {
  readonly destination: ApiDestination;
  /** Seals run state and reports with a key of these credentials (model/seal.ts). */
  readonly sealer: Sealer;
  listFlows(query?: { name?: string; status?: string }): Promise<FlowSummary[]>;
  getFlowConfig(flowConfigId: string, version: string): Promise<FetchedFlowConfig>;
  /** Asks for a presigned upload target for one CSV file. */
  createCsvTask(flowConfigId: string, mode: SendMode): Promise<UploadTarget>;
}

export type AtomicClientOptions = Omit<HttpOptions, 'userAgent'> & {
  /** Resolves upload hosts before they are trusted (tests pass a fake resolver). */
  lookup?: Lookup;
  /** Path of the cancel request, `{env}` for the environment (assumed; SPEC 6). */
  cancelPath?: string;
};

/** The Cards API, for reconcile and cancel. */
export interface CardsApi {
  readonly destination: ApiDestination;
  /** Verifies the seals of the report folders it acts on (model/seal.ts). */
  readonly sealer: Sealer;
  /** One page of the cards matching `query`. */
  listCards(query: CardQuery, limit: number, offset: number): Promise<CardSummary[]>;
  /** Cancels up to `limit` cards in `scope`; returns how many it cancelled. */
  cancelCards(scope: CancelScope, limit: number): Promise<number>;
  /** The analytics export's files available for [from, to) (SPEC 6.1); absent: not offered. */
  listAnalyticsExport?(from: Date, to: Date, format: ExportFormat): Promise<ExportFile[]>;
}

/** One request to the API, as `call` makes it. */
interface ApiCall {
  method: 'GET' | 'POST';
  path: string;
  operation: string;
  /** What a 404 means here, and a hint for any refusal. */
  messages?: { notFound?: string; notFoundHint?: string; hint?: string };
  body?: string;
  /** Retried by the HTTP client (default); false where a caller retries itself. */
  retry?: boolean;
  maxBodyBytes?: number;
  /** `path` is complete under the base URL (not under /v1/{env}). */
  absolutePath?: boolean;
}

export class AtomicClient implements AtomicApi, CardsApi {
  private readonly http: Http;
  readonly tokens: TokenProvider;
  private readonly now: () => number;
  readonly destination: ApiDestination;
  readonly sealer: Sealer;
  private readonly apiIsLoopback: boolean;
  private readonly lookup: Lookup | undefined;
  private readonly cancelPath: string;

  constructor(
    private readonly settings: ConnectionSettings,
    options: AtomicClientOptions = {},
  ) {
    this.destination = {
      apiOrigin: new URL(settings.baseUrl).origin,
      environmentId: settings.environmentId,
    };
    this.sealer = Sealer.fromCredentials(settings.clientId, settings.clientSecret);
    this.apiIsLoopback = isLoopbackHost(new URL(settings.baseUrl).hostname);
    this.lookup = options.lookup;
    this.cancelPath = options.cancelPath ?? DEFAULT_CANCEL_PATH;
    this.http = new Http({ ...options, userAgent: USER_AGENT });
    this.now = options.now ?? Date.now;
    this.tokens = new TokenProvider(settings, this.http, this.now);
  }

  async listFlows(query: { name?: string; status?: string } = {}): Promise<FlowSummary[]> {
    const params = new URLSearchParams();
    if (query.name) params.set('name', query.name);
    if (query.status) params.set('status', query.status);
    const qs = params.toString();
    const response = await this.call({
      method: 'GET',
      path: `/action-flow${qs ? `?${qs}` : ''}`,
      operation: 'GET action-flow',
      maxBodyBytes: MAX_FLOW_BODY_BYTES,
    });
    const body = this.json(response, 'GET action-flow') as { data?: unknown };
    if (!Array.isArray(body.data))
      throw new AtomicBulkError('API', 'The flow list response has no "data" list.');
    return body.data.map((item) => toSummary(item));
  }

  async getFlowConfig(flowConfigId: string, version: string): Promise<FetchedFlowConfig> {
    const operation = 'GET action-flow config';
    const response = await this.call({
      method: 'GET',
      path: `/action-flow/${encodeURIComponent(flowConfigId)}/config/${encodeURIComponent(version)}`,
      operation,
      messages: {
        notFound: `Flow ${flowConfigId} (version ${version}) was not found in environment ${this.settings.environmentId}.`,
      },
      maxBodyBytes: MAX_FLOW_BODY_BYTES,
    });
    const raw = this.json(response, operation);
    const config = parseFlowConfig(raw, `the API (flow ${flowConfigId}, version ${version})`);
    return { config, version: config.version, status: config.status, raw };
  }

  async createCsvTask(flowConfigId: string, mode: SendMode): Promise<UploadTarget> {
    const operation = mode === 'test' ? 'POST csv-task/test' : 'POST csv-task';
    const issuedAt = this.now();
    const response = await this.call({
      method: 'POST',
      path: `/action-flow/${encodeURIComponent(flowConfigId)}/csv-task${mode === 'test' ? '/test' : ''}`,
      operation,
      messages: {
        notFound: `Flow ${flowConfigId} was not found in environment ${this.settings.environmentId}.`,
        hint:
          mode === 'live'
            ? 'Live sends need a published flow; publish it, or send to test users with --test.'
            : undefined,
      },
      body: '{}',
      // The upload stage retries csv-task, once per part attempt: not here as well.
      retry: false,
    });
    const target = readUploadTarget(this.json(response, operation), issuedAt);
    await checkUploadUrl(target.url, this.apiIsLoopback, this.lookup);
    return target;
  }

  async listCards(query: CardQuery, limit: number, offset: number): Promise<CardSummary[]> {
    const operation = 'GET cards';
    const response = await this.call({
      method: 'GET',
      path: `/cards?${listQuery(query, limit, offset).toString()}`,
      operation,
      maxBodyBytes: maxPageBytes(limit),
    });
    return readCards(this.json(response, operation), limit);
  }

  async listAnalyticsExport(from: Date, to: Date, format: ExportFormat): Promise<ExportFile[]> {
    const operation = 'GET analytics export';
    const query = new URLSearchParams({
      from: from.toISOString(),
      to: to.toISOString(),
      format,
    });
    const response = await this.call({
      method: 'GET',
      path: `/analytics/batched?${query.toString()}`,
      operation,
      messages: {
        notFound: 'This environment does not offer the analytics export.',
        notFoundHint: 'Run reconcile with --source cards (the Cards API), or check --environment.',
      },
      maxBodyBytes: MAX_FLOW_BODY_BYTES,
    });
    const files = readExportListing(this.json(response, operation), format);
    for (const file of files)
      await checkUploadUrl(
        file.url,
        this.apiIsLoopback,
        this.lookup,
        "The analytics export's download URL",
      );
    return files;
  }

  async cancelCards(scope: CancelScope, limit: number): Promise<number> {
    const operation = 'POST cards cancel';
    const query = cancelQuery(scope, limit).toString();
    const path = this.cancelPath.replace('{env}', encodeURIComponent(this.settings.environmentId));
    // Cancelling is idempotent (a cancelled card stays cancelled), so it is retried like a read.
    const response = await this.call({
      method: 'POST',
      path: `${path}?${query}`,
      operation,
      body: '{}',
      absolutePath: true,
    });
    return readCancelled(this.json(response, operation), limit);
  }

  private async call(request: ApiCall): Promise<HttpResponse> {
    const { method, path, operation, messages = {}, body, retry = true, maxBodyBytes } = request;
    const absolutePath = request.absolutePath ?? false;
    const url = absolutePath
      ? `${this.settings.baseUrl}${path}`
      : `${this.settings.baseUrl}/v1/${encodeURIComponent(this.settings.environmentId)}${path}`;
    let response: HttpResponse | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.tokens.token();
      response = await this.http.send({
        method,
        url,
        operation,
        body,
        retry,
        maxBodyBytes,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      });
      if (response.status !== 401) break;
      this.tokens.invalidate(token);
    }
    const final = response as HttpResponse;
    if (final.status >= 200 && final.status < 300) return final;
    throw apiError(final, operation, messages, retry);
  }

  private json(response: HttpResponse, operation: string): unknown {
    try {
      return JSON.parse(response.text) as unknown;
    } catch {
      throw new AtomicBulkError('API', `${operation} answered with something that is not JSON.`, {
        detail: bodyDetail(response.text, 200),
        hint: 'Check --base-url: it should be the API base URL from the Workbench.',
      });
    }
  }
}

function apiError(
  response: HttpResponse,
  operation: string,
  messages: { notFound?: string; notFoundHint?: string; hint?: string },
  retried: boolean,
): AtomicBulkError {
  const status = response.status;
  const detail = bodyDetail(response.text);
  const retryAfter = retryAfterMs(response.headers.get('retry-after'), Date.now());
  const make = (code: ErrorCode, message: string, hint: string) =>
    new AtomicBulkError(code, message, {
      status,
      operation,
      detail,
      hint,
      ...(retryAfter !== null ? { retryAfterMs: retryAfter } : {}),
    });
  if (status === 401) {
    return make(
      'AUTH',
      `${operation}: the API refused the access token (HTTP 401) even after a fresh one.`,
      'Check that ATOMIC_CLIENT_ID belongs to this organisation and environment.',
    );
  }
  if (status === 403) {
    return make(
      'AUTH',
      `${operation}: forbidden (HTTP 403).`,
      'The API client needs the events role, and access to this environment.',
    );
  }
  if (status === 404) {
    return make(
      'NOT_FOUND',
      messages.notFound ?? `${operation}: not found (HTTP 404).`,
      messages.notFoundHint ?? 'Check the flow id with atomic-bulk flows list, and --environment.',
    );
  }
  if (status === 429 || status >= 500) {
    return make(
      'API',
      retried
        ? `${operation} still failed after retries (HTTP ${status}).`
        : `${operation} failed (HTTP ${status}).`,
      'Atomic is busy or unavailable; run again later (a send resumes where it stopped).',
    );
  }
  return make(
    'API',
    `${operation} was refused (HTTP ${status}).`,
    messages.hint ?? 'See the detail above.',
  );
}

function toSummary(item: unknown): FlowSummary {
  const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  const variables = o.variables;
  return {
    id: text(o.id) ?? (typeof o.id === 'number' ? String(o.id) : ''),
    name: text(o.name),
    description: text(o.description),
    status: text(o.status),
    created: text(o.created),
    updated: text(o.updated),
    variables: Array.isArray(variables)
      ? variables.map((v) =>
          typeof v === 'string' ? v : (text((v as { name?: unknown }).name) ?? ''),
        )
      : typeof variables === 'object' && variables !== null
        ? Object.keys(variables)
        : [],
  };
}
