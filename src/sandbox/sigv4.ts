/**
 * AWS Signature Version 4 for the sandbox: the signing key and the query-string-signed PUT
 * come from `@smithy/signature-v4` (the AWS SDK's own signer, already installed with the
 * S3 client); what is the sandbox's own is the judging S3 does on top — which parameters
 * must be there and once, the credential scope, the lifetime — and comparing signatures
 * in constant time. The POST policy is post-policy.ts. The contract tier proves both
 * against a real S3 (radosgw), so the store and S3 cannot drift apart unnoticed.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { getCanonicalQuery, getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, SourceData } from '@smithy/types';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 's3';
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

const bytes = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (or HMAC-SHA-256 with a secret) from node:crypto, in the shape the signer takes. */
class Sha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh() {
    return this.secret === undefined
      ? createHash('sha256')
      : createHmac('sha256', bytes(this.secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

const credentialsOf = (keys: SigningKeyPair) => ({
  accessKeyId: keys.accessKeyId,
  secretAccessKey: keys.secretAccessKey,
});

/** The SigV4 signing key of a day (yyyymmdd). */
export async function signingKey(keys: SigningKeyPair, day: string): Promise<Buffer> {
  return Buffer.from(await getSigningKey(Sha256, credentialsOf(keys), day, keys.region, SERVICE));
}

/** HMAC-SHA-256 of `data` under `key`, hex. */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
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
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function credentialScope(day: string, region: string): string {
  return `${day}/${region}/${SERVICE}/${TERMINATOR}`;
}

/** A path-style PUT of `key` to `endpoint`, as the signer takes it. */
function putRequest(
  endpoint: URL,
  path: string,
  query: Record<string, string | string[]>,
): HttpRequest {
  return {
    method: 'PUT',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
    path,
    query,
    // Query-string-signed S3 requests sign UNSIGNED-PAYLOAD (the signer would otherwise
    // sign the hash of an empty body, which S3 refuses); the header only says so to the
    // signer: it is neither signed nor moved into the URL (see PAYLOAD_HEADER_ONLY).
    headers: { host: endpoint.host, [CONTENT_SHA256]: 'UNSIGNED-PAYLOAD' },
  };
}

const CONTENT_SHA256 = 'x-amz-content-sha256';
const PAYLOAD_HEADER_ONLY = {
  unsignableHeaders: new Set([CONTENT_SHA256]),
  unhoistableHeaders: new Set([CONTENT_SHA256]),
};

function signer(keys: SigningKeyPair): SignatureV4 {
  return new SignatureV4({
    credentials: credentialsOf(keys),
    region: keys.region,
    service: SERVICE,
    sha256: Sha256,
    // S3 signs the path as sent (keys are encoded once, by the URL).
    uriEscapePath: false,
    applyChecksum: false,
  });
}

/** Where a presigned URL points and who signs it: the store's endpoint, bucket and keys. */
export interface SigningPlace {
  keys: SigningKeyPair;
  endpoint: string;
  bucket: string;
}

/** A presigned PUT URL (path style) for exactly `key`, valid for `expiresSeconds`. */
export async function presignPut(
  { keys, endpoint, bucket }: SigningPlace,
  key: string,
  expiresSeconds: number,
  now: Date = new Date(),
): Promise<string> {
  const base = new URL(endpoint);
  const path = `${base.pathname.replace(/\/+$/, '')}/${uriEncode(bucket)}/${uriEncode(key, true)}`;
  const signed = await signer(keys).presign(putRequest(base, path, {}), {
    ...PAYLOAD_HEADER_ONLY,
    expiresIn: expiresSeconds,
    signingDate: now,
  });
  // The canonical query is every parameter but the signature, encoded and sorted.
  const signature = String(signed.query?.['X-Amz-Signature'] ?? '');
  return `${base.origin}${path}?${getCanonicalQuery(signed)}&X-Amz-Signature=${signature}`;
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

export const denied = (message: string) => new SignatureError(403, 'AccessDenied', message);

/** Checks an X-Amz-Credential value against the key pair and the request's date. */
export function checkCredential(keys: SigningKeyPair, credential: string, date: string): void {
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
export async function verifyPut(
  keys: SigningKeyPair,
  { rawPath, search, host }: { rawPath: string; search: URLSearchParams; host: string },
  now: Date = new Date(),
): Promise<void> {
  noRepeatedParameters(search);
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
  get('X-Amz-Signature');
  await checkResigned(keys, { rawPath, search, host }, { signedAt, expires });
  if (now.getTime() > signedAt.getTime() + expires * 1000) throw denied('Request has expired');
  if (signedAt.getTime() > now.getTime() + 15 * 60_000)
    throw denied('Request is not valid yet (X-Amz-Date is in the future).');
}

/** An x-amz- parameter given twice is refused, as S3 does (which one would be signed?). */
function noRepeatedParameters(search: URLSearchParams): void {
  const seen = new Set<string>();
  for (const name of search.keys()) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && seen.has(lower))
      throw new SignatureError(
        400,
        'AuthorizationQueryParametersError',
        `${name} appears more than once.`,
      );
    seen.add(lower);
  }
}

/** The signature over the request as received: every other parameter, signed again. */
async function checkResigned(
  keys: SigningKeyPair,
  { rawPath, search, host }: { rawPath: string; search: URLSearchParams; host: string },
  { signedAt, expires }: { signedAt: Date; expires: number },
): Promise<void> {
  const provided = search.get('X-Amz-Signature') ?? '';
  const query: Record<string, string> = {};
  for (const [k, v] of search) if (k !== 'X-Amz-Signature') query[k] = v;
  const endpoint = new URL(`http://${host}`);
  const resigned = await signer(keys).presign(putRequest(endpoint, rawPath, query), {
    ...PAYLOAD_HEADER_ONLY,
    expiresIn: expires,
    signingDate: signedAt,
  });
  const expected = String(resigned.query?.['X-Amz-Signature'] ?? '');
  if (!sameSignature(provided, expected))
    throw new SignatureError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
}
