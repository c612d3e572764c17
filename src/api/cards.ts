/**
 * The Cards API as the tool uses it (SPEC 6): list a run's cards, and cancel them scoped
 * by invocation id. Atomic publishes the list request and the filters; the cancel
 * request's path and method are assumed (POST `/v1/{env}/cards/cancel` with the filters in
 * the query string) and configurable with --cancel-path / ATOMIC_CANCEL_PATH.
 *
 * An unscoped cancel request cancels every card in the environment. The one function
 * that builds cancel queries, `cancelQuery`, refuses to build one without a
 * flowInvocationId, and no other code path builds them.
 */
import { AtomicBulkError } from '../model/errors.js';

export const CARD_QUERY_FIELDS = [
  'flowInvocationId',
  'flowInstanceId',
  'cardTemplateId',
  'userId',
  'status',
  'lifecycleId',
] as const;
export type CardQuery = Partial<Record<(typeof CARD_QUERY_FIELDS)[number], string>>;

/** Path of the cancel request under the API base URL; `{env}` is the environment id. */
export const DEFAULT_CANCEL_PATH = '/v1/{env}/cards/cancel';
/** Atomic's largest page and largest cancel batch. */
export const MAX_CARDS_PER_REQUEST = 1000;

export interface CardSummary {
  cardInstanceId: string;
  cardTemplateId: string | null;
  flowInvocationId: string | null;
  status: string;
  userId: string | null;
  /** When Atomic created the card (ms since the epoch); null when the answer did not say. */
  created: number | null;
}

/** What a cancel may be narrowed by; the invocation id is always there. */
export interface CancelScope {
  flowInvocationId: string;
  status?: string;
  userId?: string;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

/** Card statuses the tool names; any other status a server sends is counted as `other`. */
export const KNOWN_STATUSES = [
  'active',
  'completed',
  'dismissed',
  'canceled',
  'cancelled',
  'snoozed',
  'expired',
] as const;

/**
 * The largest list page read: room for `limit` cards of 32 KiB each (payload included),
 * never more than 64 MiB. A page is parsed at once, so its size bounds memory and the
 * time a signal may wait.
 */
export function maxPageBytes(limit: number): number {
  return Math.min(64 << 20, (64 << 10) + limit * (32 << 10));
}

/**
 * The cards of a list response (`{ data: [...] }`, or a bare list). A page longer than
 * the `limit` asked for is a server that does not page as documented: refused, not read.
 */
export function readCards(body: unknown, limit = MAX_CARDS_PER_REQUEST): CardSummary[] {
  const list = Array.isArray(body)
    ? body
    : Array.isArray((body as { data?: unknown } | null)?.data)
      ? (body as { data: unknown[] }).data
      : null;
  if (list === null)
    throw new AtomicBulkError('API', 'The cards response has no "data" list.', {
      hint: 'Check --base-url; if it is right, this Atomic version may answer differently.',
    });
  if (list.length > limit)
    throw new AtomicBulkError(
      'API',
      `The cards response holds ${list.length} cards where at most ${limit} were asked for.`,
      {
        fatal: true,
        hint: 'This API does not page as Atomic documents; atomic-bulk stops rather than guess.',
      },
    );
  return list.map((item) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    return {
      cardInstanceId: text(o.cardInstanceId) ?? text(o.id) ?? '',
      cardTemplateId: text(o.cardTemplateId),
      flowInvocationId: text(o.flowInvocationId),
      status: statusOf(o.status),
      userId: text(o.userId),
      created:
        typeof o.created === 'string' && !Number.isNaN(Date.parse(o.created))
          ? Date.parse(o.created)
          : null,
    };
  });
}

/** A status as the tool counts it: one it knows, or `other` (never the server's text as a key). */
function statusOf(value: unknown): string {
  return typeof value === 'string' && (KNOWN_STATUSES as readonly string[]).includes(value)
    ? value
    : 'other';
}

/**
 * How many cards a cancel response says it cancelled: a list of them, or a count. A count
 * that is not a whole number from 0 to the `limit` asked for cannot be true, and is
 * refused: a cancel loop must never run on a count it cannot trust.
 */
export function readCancelled(body: unknown, limit = MAX_CARDS_PER_REQUEST): number {
  const data = (body as { data?: unknown } | null)?.data ?? body;
  const sane = (n: number) => {
    if (Number.isSafeInteger(n) && n >= 0 && n <= limit) return n;
    throw new AtomicBulkError(
      'API',
      `The cancel response says it cancelled ${Number.isFinite(n) ? n : 'a non-number of'} cards, which no request of at most ${limit} can.`,
      {
        fatal: true,
        hint: 'Check --cancel-path; atomic-bulk stops rather than act on a count it cannot trust.',
      },
    );
  };
  if (Array.isArray(data)) return sane(data.length);
  const o = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  for (const key of ['cancelled', 'canceled', 'count', 'updated']) {
    if (typeof o[key] === 'number') return sane(o[key]);
    if (Array.isArray(o[key])) return sane(o[key].length);
  }
  throw new AtomicBulkError(
    'API',
    'The cancel response says neither which nor how many cards it cancelled.',
    {
      hint: 'Check --cancel-path; this atomic-bulk version may not know this response shape.',
    },
  );
}

/**
 * The query string of one cancel request: the scope, `multiple=1` and `limit`. Throws,
 * rather than build it, when the scope has no flowInvocationId: that request would
 * cancel every card in the environment.
 */
export function cancelQuery(scope: CancelScope, limit: number): URLSearchParams {
  if (typeof scope.flowInvocationId !== 'string' || scope.flowInvocationId.trim() === '')
    throw new Error('refusing to build a cancel request without a flowInvocationId');
  const params = new URLSearchParams({ flowInvocationId: scope.flowInvocationId });
  if (scope.status !== undefined) params.set('status', scope.status);
  if (scope.userId !== undefined) params.set('userId', scope.userId);
  params.set('multiple', '1');
  params.set('limit', String(Math.min(Math.max(1, limit), MAX_CARDS_PER_REQUEST)));
  return params;
}

/** The list request's query string. */
export function listQuery(query: CardQuery, limit: number, offset: number): URLSearchParams {
  const params = new URLSearchParams();
  for (const field of CARD_QUERY_FIELDS) {
    const value = query[field];
    if (value !== undefined) params.set(field, value);
  }
  params.set('limit', String(Math.min(Math.max(1, limit), MAX_CARDS_PER_REQUEST)));
  if (offset > 0) params.set('offset', String(offset));
  return params;
}
