/**
 * The sandbox's API routes (SPEC 1 and 6): the token endpoint, the /sandbox/* inspection
 * routes, the flow list and configs, csv-task and csv-task/test, and the Cards API (list,
 * and cancel at the assumed path). Every route but the token endpoint needs a token; the
 * Host check and the upload gateway sit in front (sandbox.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  CARD_FILTERS,
  DEFAULT_CANCEL_LIMIT,
  DEFAULT_LIST_LIMIT,
  MAX_LIMIT,
  type CardFilter,
} from './cards.js';
import { publicTask, type SandboxContext, type Task } from './context.js';
import { MAX_SPAN_MS } from './analytics.js';
import { bearerOf, drainBody, reply, sameToken, type Reply } from './http.js';

export interface SandboxStats {
  tasks: number;
  invocations: number;
  duplicates: number;
  conflicts: number;
  rowErrors: number;
  /** Cards made, and cancelled, so far. */
  cards: number;
  cancelled: number;
  /** Invocations that made no card, by reason. */
  noCard: Record<string, number>;
  /** Cancel requests that named no filter (each cancelled every card). */
  unscopedCancels: number;
  /** Per card template: users its cards went to, and how many got more than one. */
  users: Record<string, { users: number; withMoreThanOneCard: number }>;
  faults: Record<string, number>;
}

export function stats(ctx: SandboxContext): SandboxStats {
  const { ledger } = ctx;
  return {
    tasks: ctx.tasks.size,
    invocations: ledger.created,
    duplicates: ledger.duplicates,
    conflicts: ledger.conflicts,
    rowErrors: [...ctx.tasks.values()].reduce((n, t) => n + t.errors.length, 0),
    cards: ctx.cards.size,
    cancelled: ctx.cards.cancelled,
    noCard: Object.fromEntries(ledger.noCard),
    unscopedCancels: ctx.cards.unscopedCancels,
    users: Object.fromEntries([...ctx.cards.users].map(([t, u]) => [t, { ...u }])),
    faults: Object.fromEntries(ctx.faults.injected),
  };
}

const retryAfter = (ctx: SandboxContext) => ({
  'Retry-After': String(ctx.faults.options.retryAfterSeconds ?? 1),
});

export function tokenRoute(ctx: SandboxContext, req: IncomingMessage, url: URL): Reply {
  const grant = url.searchParams.get('grant_type');
  const expected = `Basic ${Buffer.from(`${ctx.clientId}:${ctx.clientSecret}`).toString('base64')}`;
  if (ctx.faults.next('token-429'))
    return reply(429, { error: 'too_many_requests' }, retryAfter(ctx));
  if (grant !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
  if (!sameToken(req.headers.authorization ?? '', expected))
    return reply(401, { error: 'invalid_client' });
  const token = randomBytes(24).toString('base64url');
  ctx.tokens.set(token, Date.now() + ctx.tokenTtlSeconds * 1000);
  ctx.options.onCredential?.('access-token', token);
  return reply(200, {
    access_token: token,
    expires_in: ctx.tokenTtlSeconds,
    token_type: 'Bearer',
  });
}

/** Invocations per page of /sandbox/invocations, by default and at most. */
export const INVOCATIONS_PAGE = 1000;
export const MAX_INVOCATIONS_PAGE = 10_000;

/** A page of stored invocations: `?offset=&limit=`, with the offset of the next page. */
function invocationsPage(ctx: SandboxContext, url: URL): Reply {
  const offset = Number(url.searchParams.get('offset') ?? 0);
  const limit = Number(url.searchParams.get('limit') ?? INVOCATIONS_PAGE);
  if (!Number.isInteger(offset) || offset < 0)
    return reply(400, { message: 'offset must be a whole number, 0 or more' });
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_INVOCATIONS_PAGE)
    return reply(400, {
      message: `limit must be a whole number from 1 to ${MAX_INVOCATIONS_PAGE}`,
    });
  const data = ctx.ledger.page(offset, limit);
  const next =
    offset + data.length < ctx.ledger.count && data.length > 0 ? offset + data.length : null;
  return reply(200, {
    data,
    total: ctx.ledger.count,
    next,
    payloadsStored: ctx.ledger.storesPayloads,
  });
}

export function inspectionRoute(ctx: SandboxContext, req: IncomingMessage, url: URL): Reply {
  const path = url.pathname;
  if (!sameToken(bearerOf(req) ?? '', ctx.inspectionToken))
    return reply(401, {
      message: 'The inspection routes need "Authorization: Bearer <inspection token>".',
    });
  if (req.method !== 'GET') return reply(405, { message: 'Method not allowed' });
  if (path === '/sandbox/invocations') return invocationsPage(ctx, url);
  if (path === '/sandbox/users') {
    const userId = url.searchParams.get('userId');
    if (userId === null || userId === '')
      return reply(400, { message: 'Name the user: /sandbox/users?userId=…' });
    return reply(200, { data: { userId, cards: ctx.cards.cardsOfUser(userId) } });
  }
  if (path === '/sandbox/tasks')
    return reply(200, { data: [...ctx.tasks.values()].map(publicTask) });
  if (path === '/sandbox/stats') return reply(200, { data: stats(ctx) });
  return reply(404, { message: 'Not found' });
}

/** Null when the bearer token is valid; else the 401 to answer. */
function checkToken(ctx: SandboxContext, req: IncomingMessage): Reply | null {
  const bearer = bearerOf(req);
  const expiry = bearer === undefined ? undefined : ctx.tokens.get(bearer);
  if (expiry !== undefined && ctx.faults.next('token-revoked')) ctx.tokens.delete(bearer as string);
  if (expiry === undefined || expiry <= Date.now() || !ctx.tokens.has(bearer as string))
    return reply(401, {
      message: expiry === undefined ? 'Unauthorized' : 'The access token expired or was revoked',
    });
  return null;
}

const ACTION_FLOW =
  /^\/v1\/([^/]+)\/action-flow(?:\/([^/]+)(\/config\/([^/]+)|\/csv-task(\/test)?)?)?$/;
const CARDS = /^\/v1\/([^/]+)\/cards$/;
const ANALYTICS = /^\/v1\/([^/]+)\/analytics\/batched$/;

/** The /v1 routes, or null when the path is none of them. */
export async function apiRoute(
  ctx: SandboxContext,
  req: IncomingMessage,
  url: URL,
): Promise<Reply | null> {
  const path = url.pathname;
  const flowRoute = ACTION_FLOW.exec(path);
  const cardsRoute = CARDS.exec(path);
  const cancelRoute = path === ctx.cancelPath;
  const analyticsRoute = ANALYTICS.exec(path);
  if (flowRoute === null && cardsRoute === null && analyticsRoute === null && !cancelRoute)
    return null;
  await drainBody(req);
  const refused = checkToken(ctx, req);
  if (refused !== null) return refused;
  const env = (flowRoute ?? cardsRoute ?? analyticsRoute)?.[1];
  if (env !== undefined && decodeURIComponent(env) !== ctx.environmentId)
    return reply(404, { message: 'Environment not found' });
  if (cardsRoute !== null || cancelRoute) return cardsApi(ctx, req, url, cancelRoute);
  if (analyticsRoute !== null) return analyticsExport(ctx, req, url);
  return actionFlow(ctx, req, url, flowRoute as RegExpExecArray);
}

async function actionFlow(
  ctx: SandboxContext,
  req: IncomingMessage,
  url: URL,
  route: RegExpExecArray,
): Promise<Reply> {
  const { flows } = ctx;
  const flowId = route[2] === undefined ? undefined : decodeURIComponent(route[2]);
  if (flowId === undefined) {
    if (req.method !== 'GET') return reply(405, { message: 'Method not allowed' });
    return reply(200, { data: flowList(ctx, url) });
  }
  const flow = flows.get(flowId);
  if (route[3] !== undefined && route[3].startsWith('/config/')) {
    const version = route[4] ?? 'latest';
    if (flow === undefined || (version !== 'latest' && version !== String(flow.version)))
      return reply(404, { message: 'Flow config not found' });
    return reply(200, {
      data: {
        status: flow.status,
        config: flow.raw.config,
        created: flow.created,
        updated: flow.updated,
        version: flow.version,
      },
    });
  }
  if (req.method !== 'POST') return reply(405, { message: 'Method not allowed' });
  if (flow === undefined) return reply(404, { message: 'Flow not found' });
  const mode = route[5] === undefined ? 'live' : 'test';
  if (mode === 'live' && flow.status !== 'published') {
    return reply(422, {
      message:
        'The flow is not published; live bulk sends need a published flow. Use csv-task/test to reach test users.',
    });
  }
  if (ctx.faults.next('csv-task-429') || (ctx.maxRunning > 0 && ctx.running() >= ctx.maxRunning))
    return reply(
      429,
      { message: 'Too many bulk tasks are running in this environment' },
      retryAfter(ctx),
    );
  if (ctx.faults.next('csv-task-5xx')) return reply(503, { message: 'Service unavailable' });
  return createTask(ctx, flowId, mode);
}

/** GET action-flow: the flows, filtered by name (a part of it) and status. */
function flowList(ctx: SandboxContext, url: URL) {
  const { flows, environmentId } = ctx;
  const name = url.searchParams.get('name');
  const status = url.searchParams.get('status');
  const list = [...flows.values()]
    .filter(
      (f) =>
        (name ? f.name.toLowerCase().includes(name.toLowerCase()) : true) &&
        (status ? f.status === status : true),
    )
    .map((f) => ({
      id: f.id,
      name: f.name,
      description: f.description,
      status: f.status,
      created: f.created,
      updated: f.updated,
      variables: [...f.config.variables.keys()],
      invocationUrl: `${ctx.baseUrl}/v1/${environmentId}/action-flow/${f.id}/start`,
    }));
  return list;
}

async function createTask(
  ctx: SandboxContext,
  flowId: string,
  mode: 'live' | 'test',
): Promise<Reply> {
  const { s3, urlTtlSeconds, options } = ctx;
  const taskId = randomUUID();
  const key = `csv-tasks/${ctx.environmentId}/${flowId}/${taskId}.csv`;
  const now = Date.now();
  const task: Task = {
    taskId,
    flowId,
    mode,
    key,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + urlTtlSeconds * 1000).toISOString(),
    expiresAtMs: now + urlTtlSeconds * 1000,
    uploadedAtMs: 0,
    status: 'issued',
    uploadAttempts: 0,
    uploadedAt: null,
    bytes: null,
    rows: 0,
    created: 0,
    duplicates: 0,
    conflicts: 0,
    cards: 0,
    errors: [],
    reason: null,
    s3Url: s3.bucketUrl(),
  };
  ctx.tasks.set(taskId, task);
  if (ctx.method === 'put') {
    const putUrl = await s3.presignPut(key, ctx.maxUploadBytes, urlTtlSeconds);
    const signature = new URL(putUrl).searchParams.get('X-Amz-Signature');
    if (signature !== null) options.onCredential?.('signature', signature);
    return reply(201, { data: { taskId, url: putUrl, expiresAt: task.expiresAt } });
  }
  const post = await s3.presignPost(key, ctx.maxUploadBytes, urlTtlSeconds);
  for (const [name, value] of Object.entries(post.fields)) {
    const lower = name.toLowerCase();
    if (lower === 'policy') options.onCredential?.('policy', value);
    else if (lower === 'x-amz-signature') options.onCredential?.('signature', value);
  }
  return reply(201, {
    data: {
      taskId,
      url: ctx.direct ? post.url : `${ctx.baseUrl}/upload/${taskId}`,
      fields: post.fields,
      expiresAt: task.expiresAt,
    },
  });
}

/** A whole number from a query parameter within [1, MAX_LIMIT], or an error text. */
function limitOf(url: URL, fallback: number): number | string {
  const text = url.searchParams.get('limit');
  if (text === null) return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT
    ? n
    : `limit must be a whole number from 1 to ${MAX_LIMIT}`;
}

function cardsApi(ctx: SandboxContext, req: IncomingMessage, url: URL, cancel: boolean): Reply {
  if (ctx.faults.next('cards-429'))
    return reply(429, { message: 'Too many requests' }, retryAfter(ctx));
  if (ctx.faults.next('cards-5xx')) return reply(503, { message: 'Service unavailable' });
  const filter: CardFilter = {};
  for (const name of CARD_FILTERS) {
    const value = url.searchParams.get(name);
    if (value !== null) filter[name] = value;
  }
  if (!cancel) {
    if (req.method !== 'GET') return reply(405, { message: 'Method not allowed' });
    const limit = limitOf(url, DEFAULT_LIST_LIMIT);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    if (typeof limit === 'string') return reply(400, { message: limit });
    if (!Number.isInteger(offset) || offset < 0)
      return reply(400, { message: 'offset must be a whole number, 0 or more' });
    return reply(200, { data: ctx.cards.list(filter, limit, offset) });
  }
  if (req.method !== 'POST') return reply(405, { message: 'Method not allowed' });
  const limit = limitOf(url, DEFAULT_CANCEL_LIMIT);
  if (typeof limit === 'string') return reply(400, { message: limit });
  const multiple = url.searchParams.get('multiple') === '1';
  const cancelled = ctx.cards.cancel(filter, limit, multiple);
  if (cancelled === 'needs-multiple')
    return reply(400, { message: 'The request matches more than one card; add multiple=1.' });
  const at = Date.now();
  for (const card of cancelled)
    ctx.analytics.record({
      name: 'card-cancelled',
      flowInvocationId: card.flowInvocationId,
      userId: card.userId,
      cardInstanceId: card.cardInstanceId,
      cardTemplateId: card.cardTemplateId,
      at,
    });
  return reply(200, { data: cancelled });
}

/**
 * The hourly analytics export (SPEC 6.1): the periods of `from`–`to` (a span of at most
 * 30 days) that are available, each with a download URL valid for 15 minutes.
 */
function analyticsExport(ctx: SandboxContext, req: IncomingMessage, url: URL): Reply {
  if (req.method !== 'GET') return reply(405, { message: 'Method not allowed' });
  const from = Date.parse(url.searchParams.get('from') ?? '');
  const to = Date.parse(url.searchParams.get('to') ?? '');
  const format = url.searchParams.get('format') ?? 'ndjson';
  if (Number.isNaN(from) || Number.isNaN(to) || to <= from)
    return reply(400, { message: 'from and to must be ISO 8601 times, from before to' });
  if (to - from > MAX_SPAN_MS) return reply(400, { message: 'A request spans at most 30 days' });
  if (format !== 'ndjson' && format !== 'csv')
    return reply(400, { message: 'The sandbox serves format=ndjson or format=csv' });
  const files = ctx.analytics.list({ from, to }, format, ctx.baseUrl);
  if (typeof files === 'string') return reply(400, { message: files });
  return reply(200, { data: { files } });
}
