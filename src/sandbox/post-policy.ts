/**
 * The browser-style POST policy S3 accepts (and Atomic's csv-task hands out): making one
 * for exactly one key, size and lifetime, and judging a received form as S3 does — the
 * signature over the policy (key from sigv4.ts), expiry, every condition, and that every
 * field is covered by one.
 */
import {
  ALGORITHM,
  amzDate,
  checkCredential,
  credentialScope,
  denied,
  hmacHex,
  parseAmzDate,
  sameSignature,
  SignatureError,
  signingKey,
  type PresignedPost,
  type SigningKeyPair,
  type SigningPlace,
} from './sigv4.js';

/**
 * A presigned POST for exactly `key` in `bucket`, at most `maxBytes`, valid for
 * `expiresSeconds` from `now`. The fields are what S3's own presigners produce.
 */
export async function presignPost(
  { keys, endpoint, bucket }: SigningPlace,
  key: string,
  { maxBytes, expiresSeconds }: { maxBytes: number; expiresSeconds: number },
  now: Date = new Date(),
): Promise<PresignedPost> {
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
  const signature = hmacHex(await signingKey(keys, date.slice(0, 8)), encoded);
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
export async function verifyPost(
  keys: SigningKeyPair,
  bucket: string,
  fields: Map<string, string>,
  now: Date = new Date(),
): Promise<VerifiedPolicy> {
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
  await checkSignature(keys, { policy, signature, date });
  const { expiration, conditions } = readPolicy(policy, now);
  const { minBytes, maxBytes } = checkFields(conditions, fields, bucket);
  return { expiration, conditions, minBytes, maxBytes };
}

/** The signature over the policy, with the key of the policy's date. */
async function checkSignature(
  keys: SigningKeyPair,
  { policy, signature, date }: { policy: string; signature: string; date: string },
): Promise<void> {
  const expected = hmacHex(await signingKey(keys, date.slice(0, 8)), policy);
  if (!sameSignature(signature, expected))
    throw new SignatureError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
}

/** The policy document: base64 JSON, not expired, with conditions S3 understands. */
function readPolicy(
  policy: string,
  now: Date,
): { expiration: Date; conditions: ReturnType<typeof readConditions> } {
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
  return { expiration, conditions: readConditions(doc.conditions) };
}

/** Every field meets its condition, every field is covered, the key is constrained. */
function checkFields(
  conditions: ReturnType<typeof readConditions>,
  fields: Map<string, string>,
  bucket: string,
): { minBytes: number; maxBytes: number } {
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
  return { minBytes, maxBytes };
}
