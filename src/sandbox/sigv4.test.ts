import { describe, expect, it } from 'vitest';
import { presignPost, verifyPost } from './post-policy.js';
import { presignPut, SignatureError, verifyPut, type SigningKeyPair } from './sigv4.js';

const keys: SigningKeyPair = {
  accessKeyId: 'SANDBOXTESTKEY',
  secretAccessKey: 'a-secret-of-the-test',
  region: 'us-east-1',
};
const ENDPOINT = 'http://127.0.0.1:9000';
const AT = new Date('2026-12-07T05:00:00Z');

/** What a store sees of a presigned PUT URL: the raw path, the query, the Host. */
function received(url: string) {
  const u = new URL(url);
  return { rawPath: u.pathname, search: new URLSearchParams(u.search), host: u.host };
}

async function judgePut(url: string, now = AT): Promise<string> {
  const r = received(url);
  try {
    await verifyPut(keys, r, now);
    return 'ok';
  } catch (error) {
    if (error instanceof SignatureError) return error.code;
    throw error;
  }
}

describe('presigned PUT', () => {
  it('verifies what it signed, keys with any characters included', async () => {
    for (const key of ['a/b.csv', 'csv-tasks/env/flow é/🙂 x+y=z&w.csv', "a'b(c)*!~.csv"]) {
      const url = await presignPut({ keys, endpoint: ENDPOINT, bucket: 'bucket' }, key, 300, AT);
      expect(await judgePut(url)).toBe('ok');
    }
  });

  it('refuses a changed key, expiry or signature, another key pair, and lateness', async () => {
    const url = await presignPut({ keys, endpoint: ENDPOINT, bucket: 'bucket' }, 'a.csv', 300, AT);
    const other = (change: (u: URL) => void) => {
      const u = new URL(url);
      change(u);
      return u.toString();
    };
    expect(await judgePut(other((u) => (u.pathname = '/bucket/b.csv')))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(await judgePut(other((u) => u.searchParams.set('X-Amz-Expires', '600')))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(await judgePut(other((u) => u.searchParams.set('extra', '1')))).toBe(
      'SignatureDoesNotMatch',
    );
    const forged = await presignPut(
      { keys: { ...keys, secretAccessKey: 'another' }, endpoint: ENDPOINT, bucket: 'bucket' },
      'a.csv',
      300,
      AT,
    );
    expect(await judgePut(forged)).toBe('SignatureDoesNotMatch');
    expect(await judgePut(url, new Date(AT.getTime() + 301_000))).toBe('AccessDenied');
    expect(await judgePut(url, new Date(AT.getTime() - 16 * 60_000))).toBe('AccessDenied');
  });

  it('refuses an authentication parameter given twice, even with the same value', async () => {
    const url = await presignPut({ keys, endpoint: ENDPOINT, bucket: 'bucket' }, 'a.csv', 300, AT);
    const signature = new URL(url).searchParams.get('X-Amz-Signature') ?? '';
    expect(await judgePut(`${url}&X-Amz-Signature=${signature}`)).toBe(
      'AuthorizationQueryParametersError',
    );
    expect(await judgePut(`${url}&x-amz-date=20261207T050000Z`)).toBe(
      'AuthorizationQueryParametersError',
    );
  });
});

describe('presigned POST policy', () => {
  async function fields(over: Record<string, string | undefined> = {}) {
    const post = await presignPost(
      { keys, endpoint: ENDPOINT, bucket: 'bucket' },
      'tasks/a.csv',
      { maxBytes: 1000, expiresSeconds: 300 },
      AT,
    );
    const map = new Map<string, string>();
    for (const [name, value] of Object.entries({ ...post.fields, ...over }))
      if (value !== undefined) map.set(name.toLowerCase(), value);
    return map;
  }
  async function judge(map: Map<string, string>, now = AT): Promise<string> {
    try {
      const policy = await verifyPost(keys, 'bucket', map, now);
      return `ok ${policy.minBytes}-${policy.maxBytes}`;
    } catch (error) {
      if (error instanceof SignatureError) return error.code;
      throw error;
    }
  }

  it('verifies its own form and gives the size range to enforce', async () => {
    expect(await judge(await fields())).toBe('ok 0-1000');
  });

  it('refuses another key, an extra field, a forged policy, expiry and a missing signature', async () => {
    expect(await judge(await fields({ key: 'tasks/b.csv' }))).toBe('AccessDenied');
    expect(await judge(await fields({ 'x-amz-meta-owner': 'x' }))).toBe('AccessDenied');
    const forged = Buffer.from(
      JSON.stringify({ expiration: '2030-01-01T00:00:00Z', conditions: [{ key: 'tasks/a.csv' }] }),
    ).toString('base64');
    expect(await judge(await fields({ Policy: forged }))).toBe('SignatureDoesNotMatch');
    expect(await judge(await fields(), new Date(AT.getTime() + 301_000))).toBe('AccessDenied');
    expect(await judge(await fields({ 'X-Amz-Signature': undefined }))).toBe('AccessDenied');
    expect(
      await judge(await fields({ 'X-Amz-Credential': 'OTHER/20261207/us-east-1/s3/aws4_request' })),
    ).toBe('InvalidAccessKeyId');
  });
});
