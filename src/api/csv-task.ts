/**
 * Reads a csv-task response, whose shape Atomic does not publish (SPEC 1.4), tolerantly:
 * an optional `data` wrapper; the URL under url, uploadUrl, presignedUrl or signedUrl;
 * `fields` for a presigned POST, none for a PUT; the task id under taskId, id or
 * csvTaskId; the expiry under expiresAt or expires, else the POST policy's expiration,
 * else issue time + 300 s. An unrecognisable response names the keys it had, never values.
 */
import { AtomicBulkError } from '../model/errors.js';
import type { UploadTarget } from '../model/upload-target.js';

const URL_KEYS = ['url', 'uploadUrl', 'presignedUrl', 'signedUrl'];
const ID_KEYS = ['taskId', 'id', 'csvTaskId'];
const EXPIRY_KEYS = ['expiresAt', 'expires'];

/** The validity Atomic states for its upload URLs. */
export const DEFAULT_URL_TTL_MS = 300_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(what: string, keys: string[]): never {
  throw new AtomicBulkError('API', `The csv-task response ${what}.`, {
    detail: `It had the keys: ${keys.length > 0 ? keys.join(', ') : '(none)'}.`,
    hint: 'This atomic-bulk version may not know this response shape; please report it with the keys above.',
  });
}

export function readUploadTarget(body: unknown, issuedAtMs: number): UploadTarget {
  if (!isObject(body)) fail('is not a JSON object', []);
  const obj = isObject(body.data) ? body.data : body;
  const keys = Object.keys(obj);
  const urlKey = URL_KEYS.find((k) => typeof obj[k] === 'string' && obj[k] !== '');
  if (urlKey === undefined)
    fail('has no upload URL (looked for url, uploadUrl, presignedUrl, signedUrl)', keys);
  const url = obj[urlKey] as string;
  if (!/^https?:\/\//i.test(url))
    fail(`has an upload URL under "${urlKey}" that is not http(s)`, keys);
  const idKey = ID_KEYS.find((k) => typeof obj[k] === 'string' || typeof obj[k] === 'number');
  const taskId = idKey === undefined ? null : String(obj[idKey]);
  const explicit = readExpiry(obj, keys);
  if (obj.fields !== undefined && obj.fields !== null) {
    if (!isObject(obj.fields)) fail('has "fields" that is not an object', keys);
    const fields: [string, string][] = [];
    for (const [name, value] of Object.entries(obj.fields)) {
      if (typeof value === 'string') fields.push([name, value]);
      else if (typeof value === 'number' || typeof value === 'boolean')
        fields.push([name, String(value)]);
      else fail(`has a form field "${name}" that is not text`, keys);
    }
    const policy = explicit === null ? policyExpiration(fields) : null;
    return {
      method: 'POST',
      url,
      fields,
      expiresAt: explicit ?? policy ?? new Date(issuedAtMs + DEFAULT_URL_TTL_MS),
      expirySource: explicit !== null ? 'response' : policy !== null ? 'policy' : 'assumed',
      taskId,
    };
  }
  return {
    method: 'PUT',
    url,
    expiresAt: explicit ?? new Date(issuedAtMs + DEFAULT_URL_TTL_MS),
    expirySource: explicit !== null ? 'response' : 'assumed',
    taskId,
  };
}

function readExpiry(obj: Record<string, unknown>, keys: string[]): Date | null {
  for (const key of EXPIRY_KEYS) {
    const value = obj[key];
    if (value === undefined || value === null) continue;
    const date =
      typeof value === 'string'
        ? new Date(value)
        : typeof value === 'number'
          ? new Date(value < 1e12 ? value * 1000 : value)
          : null;
    if (date === null || Number.isNaN(date.getTime()))
      fail(`has "${key}" that is not an ISO 8601 time`, keys);
    return date;
  }
  return null;
}

/** The `expiration` of a base64 POST policy document, if there is one. */
function policyExpiration(fields: [string, string][]): Date | null {
  const policy = fields.find(([name]) => name === 'Policy' || name === 'policy')?.[1];
  if (policy === undefined) return null;
  try {
    const doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as {
      expiration?: unknown;
    };
    if (typeof doc.expiration !== 'string') return null;
    const date = new Date(doc.expiration);
    return Number.isNaN(date.getTime()) ? null : date;
  } catch {
    return null;
  }
}
