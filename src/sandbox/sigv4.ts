/**
 * AWS Signature Version 4 for the two presigned shapes the sandbox hands out — the
 * browser-style POST policy and the query-string-signed PUT — both to make them and to
 * verify them. The sandbox's own object store verifies with the same code that signs, and
 * the contract tier proves the signing against a real S3 (radosgw), so the two cannot
 * drift apart unnoticed.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const TERMINATOR = 'aws4_request';
/** S3's longest presigned lifetime: seven days. */
export const MAX_EXPIRES_SECONDS = 604_800;

export interface SigningKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function signingKey(secret: string, day: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), SERVICE), TERMINATOR);
}

/** 20261130T024620Z */
export function amzDate(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The time of an X-Amz-Date value, or null when it is not one. */
export function parseAmzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return null;
  const n = m.slice(1).map(Number);
  const at = (i: number) => n[i] ?? NaN;
  const date = new Date(Date.UTC(at(0), at(1) - 1, at(2), at(3), at(4), at(5)));
  return Number.isNaN(date.getTime()) || amzDate(date) !== value ? null : date;
}

/** RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, the rest %XX. */
export function uriEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Compares two hex signatures in constant time. */
function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function credentialScope(day: string, region: string): string {
  return `${day}/${region}/${SERVICE}/${TERMINATOR}`;
}

/**
 * A presigned POST for exactly `key` in `bucket`, at most `maxBytes`, valid for
 * `expiresSeconds` from `now`. The fields are what S3's own presigners produce.
 */
export function presignPost(
  keys: SigningKeyPair,
  endpoint: string,
  bucket: string,
  key: string,
  maxBytes: number,
  expiresSeconds: number,
  now: Date = new Date(),
): PresignedPost {
  const date = amzDate(now);
  const credential = `${keys.accessKeyId}/${credentialScope(date.slice(0, 8), keys.region)}`;
  const policy = {
    expiration: new Date(now.getTime() + expiresSeconds * 1000).toISOString(),
    conditions: [
      { bucket },
      { key },
      ['content-length-range', 0, maxBytes],
      { 'x-amz-algorithm': ALGORITHM },
      { 'x-amz-credential': credential },
      { 'x-amz-date': date },
    ],
  };
  const encoded = Buffer.from(JSON.stringify(policy), 'utf8').toString('base64');
  const signature = hmac(
    signingKey(keys.secretAccessKey, date.slice(0, 8), keys.region),
    encoded,
  ).toString('hex');
  return {
    url: `${endpoint.replace(/\/+$/, '')}/${bucket}`,
    fields: {
      bucket,
      key,
      'X-Amz-Algorithm': ALGORITHM,
      'X-Amz-Credential': credential,
      'X-Amz-Date': date,
      Policy: encoded,
      'X-Amz-Signature': signature,
    },
  };
}

function canonicalQuery(params: [string, string][]): string {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function putStringToSign(
  canonicalPath: string,
  query: [string, string][],
  host: string,
  date: string,
  scope: string,
): string {
  const canonicalRequest = [
    'PUT',
    canonicalPath,
    canonicalQuery(query),
    `host:${host}`,
    '',
    'host',
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  return [ALGORITHM, date, scope, sha256Hex(canonicalRequest)].join('\n');
}

/** A presigned PUT URL (path style) for exactly `key`, valid for `expiresSeconds`. */
export function presignPut(
  keys: SigningKeyPair,
  endpoint: string,
  bucket: string,
  key: string,
  expiresSeconds: number,
  now: Date = new Date(),
): string {
  const base = new URL(endpoint);
  const date = amzDate(now);
  const scope = credentialScope(date.slice(0, 8), keys.region);
  const path = `${base.pathname.replace(/\/+$/, '')}/${uriEncode(bucket)}/${uriEncode(key, true)}`;
  const query: [string, string][] = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${keys.accessKeyId}/${scope}`],
    ['X-Amz-Date', date],
    ['X-Amz-Expires', String(expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  const signature = hmac(
    signingKey(keys.secretAccessKey, date.slice(0, 8), keys.region),
    putStringToSign(path, query, base.host, date, scope),
  ).toString('hex');
  return `${base.origin}${path}?${canonicalQuery([...query, ['X-Amz-Signature', signature]])}`;
}

/** Why S3 would refuse a signed request, as its error code and message. */
export class SignatureError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const denied = (message: string) => new SignatureError(403, 'AccessDenied', message);

/** Checks an X-Amz-Credential value against the key pair; returns its day. */
function checkCredential(keys: SigningKeyPair, credential: string, date: string): void {
  const parts = credential.split('/');
  if (parts.length !== 5)
    throw new SignatureError(
      400,
      'AuthorizationQueryParametersError',
      'Error parsing the X-Amz-Credential parameter.',
    );
  const [accessKey, day, region, service, terminator] = parts;
  if (accessKey !== keys.accessKeyId)
    throw new SignatureError(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  if (
    day !== date.slice(0, 8) ||
    region !== keys.region ||
    service !== SERVICE ||
    terminator !== TERMINATOR
  )
    throw new SignatureError(
      400,
      'AuthorizationQueryParametersError',
      'The credential scope does not match the request.',
    );
}

/**
 * Verifies a presigned PUT as S3 does: algorithm, credential scope, date, lifetime, that
 * `host` is signed, and the signature over the request as received. `rawPath` is the
 * request's path exactly as sent (percent-encoded); `host` its Host header.
 */
export function verifyPut(
  keys: SigningKeyPair,
  rawPath: string,
  search: URLSearchParams,
  host: string,
  now: Date = new Date(),
): void {
  const get = (name: string) => {
    const value = search.get(name);
    if (value === null)
      throw new SignatureError(
        403,
        'AccessDenied',
        `Query-string authentication requires ${name}.`,
      );
    return value;
  };
  if (get('X-Amz-Algorithm') !== ALGORITHM)
    throw new SignatureError(
      400,
      'AuthorizationQueryParametersError',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".',
    );
  const date = get('X-Amz-Date');
  const signedAt = parseAmzDate(date);
  if (signedAt === null)
    throw new SignatureError(
      400,
      'AuthorizationQueryParametersError',
      'X-Amz-Date must be in the ISO8601 Long Format.',
    );
  checkCredential(keys, get('X-Amz-Credential'), date);
  const expires = Number(get('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_SECONDS)
    throw new SignatureError(
      400,
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be between 1 and 604800 seconds.',
    );
  if (!get('X-Amz-SignedHeaders').split(';').includes('host'))
    throw denied('The host header must be signed.');
  if (get('X-Amz-SignedHeaders') !== 'host')
    throw denied('This store accepts presigned URLs that sign the host header only.');
  const provided = get('X-Amz-Signature');
  const query: [string, string][] = [];
  for (const [k, v] of search) if (k !== 'X-Amz-Signature') query.push([k, v]);
  const expected = hmac(
    signingKey(keys.secretAccessKey, date.slice(0, 8), keys.region),
    putStringToSign(rawPath, query, host, date, credentialScope(date.slice(0, 8), keys.region)),
  ).toString('hex');
  if (!sameSignature(provided, expected))
    throw new SignatureError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
  if (now.getTime() > signedAt.getTime() + expires * 1000) throw denied('Request has expired');
  if (signedAt.getTime() > now.getTime() + 15 * 60_000)
    throw denied('Request is not valid yet (X-Amz-Date is in the future).');
}

export type PolicyCondition =
  | { kind: 'eq'; field: string; value: string }
  | { kind: 'starts-with'; field: string; prefix: string }
  | { kind: 'content-length-range'; min: number; max: number };

export interface VerifiedPolicy {
  expiration: Date;
  conditions: PolicyCondition[];
  /** The allowed size of the file, from content-length-range (S3's 5 GB when absent). */
  minBytes: number;
  maxBytes: number;
}

const malformedPolicy = (message: string) =>
  new SignatureError(400, 'InvalidPolicyDocument', `Invalid Policy: ${message}`);

function readConditions(raw: unknown): PolicyCondition[] {
  if (!Array.isArray(raw)) throw malformedPolicy('conditions must be a list.');
  return raw.map((c): PolicyCondition => {
    if (Array.isArray(c)) {
      const [op, a, b] = c as unknown[];
      if (op === 'content-length-range') {
        if (typeof a !== 'number' || typeof b !== 'number' || a < 0 || b < a)
          throw malformedPolicy('content-length-range needs two numbers, min ≤ max.');
        return { kind: 'content-length-range', min: a, max: b };
      }
      if (
        (op === 'eq' || op === 'starts-with') &&
        typeof a === 'string' &&
        a.startsWith('$') &&
        typeof b === 'string'
      ) {
        const field = a.slice(1).toLowerCase();
        return op === 'eq'
          ? { kind: 'eq', field, value: b }
          : { kind: 'starts-with', field, prefix: b };
      }
      throw malformedPolicy('a condition is not eq, starts-with or content-length-range.');
    }
    if (typeof c === 'object' && c !== null) {
      const entries = Object.entries(c as Record<string, unknown>);
      if (entries.length !== 1 || typeof entries[0]?.[1] !== 'string')
        throw malformedPolicy('an exact-match condition must have one text value.');
      const [field, value] = entries[0] as [string, string];
      return { kind: 'eq', field: field.toLowerCase(), value };
    }
    throw malformedPolicy('a condition is neither a list nor an object.');
  });
}

/** Fields S3 does not require a policy condition for. */
const EXEMPT = new Set(['x-amz-signature', 'policy', 'file']);

/**
 * Verifies a browser-style POST as S3 does, before the file is read: the fields before
 * the file (`fields`, names lower-cased) carry a policy signed with the key pair, the
 * policy has not expired, every condition holds, and every field is covered by a
 * condition. The size condition is returned for the caller to enforce while streaming.
 */
export function verifyPost(
  keys: SigningKeyPair,
  bucket: string,
  fields: Map<string, string>,
  now: Date = new Date(),
): VerifiedPolicy {
  const policy = fields.get('policy');
  const signature = fields.get('x-amz-signature');
  const credential = fields.get('x-amz-credential');
  const date = fields.get('x-amz-date');
  if (
    policy === undefined ||
    signature === undefined ||
    credential === undefined ||
    date === undefined
  )
    throw denied(
      'Bucket POST must contain a policy, X-Amz-Signature, X-Amz-Credential and X-Amz-Date.',
    );
  if (fields.get('x-amz-algorithm') !== ALGORITHM)
    throw new SignatureError(
      400,
      'InvalidArgument',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".',
    );
  if (parseAmzDate(date) === null)
    throw new SignatureError(
      400,
      'InvalidArgument',
      'X-Amz-Date must be in the ISO8601 Long Format.',
    );
  checkCredential(keys, credential, date);
  const expected = hmac(
    signingKey(keys.secretAccessKey, date.slice(0, 8), keys.region),
    policy,
  ).toString('hex');
  if (!sameSignature(signature, expected))
    throw new SignatureError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
  let doc: { expiration?: unknown; conditions?: unknown };
  try {
    doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as typeof doc;
  } catch {
    throw malformedPolicy('the policy is not base64-encoded JSON.');
  }
  const expiration = typeof doc.expiration === 'string' ? new Date(doc.expiration) : null;
  if (expiration === null || Number.isNaN(expiration.getTime()))
    throw malformedPolicy('expiration is missing or not a time.');
  if (now.getTime() > expiration.getTime())
    throw denied('Invalid according to Policy: Policy expired.');
  const conditions = readConditions(doc.conditions);
  const field = fields.get('bucket');
  if (field !== undefined && field !== bucket)
    throw denied('Invalid according to Policy: the bucket field names another bucket.');
  const withBucket = new Map(fields);
  withBucket.set('bucket', bucket);
  let minBytes = 0;
  let maxBytes = 5 * 1024 ** 3;
  const covered = new Set<string>();
  for (const c of conditions) {
    if (c.kind === 'content-length-range') {
      minBytes = Math.max(minBytes, c.min);
      maxBytes = Math.min(maxBytes, c.max);
      continue;
    }
    covered.add(c.field);
    const value = withBucket.get(c.field) ?? '';
    const holds = c.kind === 'eq' ? value === c.value : value.startsWith(c.prefix);
    if (!holds)
      throw denied(
        `Invalid according to Policy: Policy Condition failed: ["${c.kind}", "$${c.field}", ...]`,
      );
  }
  for (const name of fields.keys()) {
    if (EXEMPT.has(name) || name.startsWith('x-ignore-') || covered.has(name)) continue;
    throw denied(`Invalid according to Policy: Extra input fields: ${name}`);
  }
  if (!covered.has('key')) throw denied('Invalid according to Policy: the key is not constrained.');
  return { expiration, conditions, minBytes, maxBytes };
}
