import { describe, expect, it } from 'vitest';
import { json, testServer } from '../../test/http-server.js';
import { isAtomicBulkError, type AtomicBulkError } from '../model/errors.js';
import { AtomicClient, type AtomicClientOptions } from './client.js';
import type { ConnectionSettings } from './connection.js';
import { readUploadTarget } from './csv-task.js';

const SECRET = 'very-secret-client-secret-9f3a';
const TOKEN = 'access-token-7c1e-not-for-logs';

/** A fake Atomic: token endpoint plus `api` for everything under /v1. */
async function fakeAtomic(
  api: (
    path: string,
    n: number,
  ) => { status: number; body: unknown; headers?: Record<string, string> } | 'drop',
  tokenTtl = 3600,
) {
  let apiCalls = 0;
  const server = await testServer((req, res) => {
    if (req.url.startsWith('/oauth2/token')) {
      json(res, 200, {
        access_token: `${TOKEN}-${server.requests.filter((r) => r.url.startsWith('/oauth2')).length}`,
        expires_in: tokenTtl,
        token_type: 'Bearer',
      });
      return;
    }
    const answer = api(req.url, apiCalls++);
    if (answer === 'drop') {
      res.socket?.destroy();
      return;
    }
    json(res, answer.status, answer.body, answer.headers);
  });
  return server;
}

function client(
  url: string,
  options: AtomicClientOptions = {},
  settings: Partial<ConnectionSettings> = {},
) {
  const sleeps: number[] = [];
  // A fake clock that waits advance, so retry time limits can be tested without waiting.
  let clock = 1_000_000;
  const c = new AtomicClient(
    {
      baseUrl: url,
      environmentId: 'env1',
      tokenUrl: `${url}/oauth2/token`,
      clientId: 'cid',
      clientSecret: SECRET,
      ...settings,
    },
    {
      sleep: (ms) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
      now: () => clock,
      random: () => 0.5,
      ...options,
    },
  );
  return { c, sleeps };
}

async function rejection(promise: Promise<unknown>): Promise<AtomicBulkError> {
  try {
    await promise;
  } catch (error) {
    if (isAtomicBulkError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('csv-task responses', () => {
  const issued = Date.parse('2026-11-22T00:00:00Z');
  const policy = Buffer.from(
    JSON.stringify({ expiration: '2026-11-22T00:04:00.000Z', conditions: [] }),
  ).toString('base64');

  it.each([
    [
      'data wrapper, url, fields',
      { data: { url: 'https://u', fields: { a: '1' } } },
      { method: 'POST', url: 'https://u', fields: [['a', '1']] },
    ],
    ['no wrapper', { url: 'https://u', fields: { a: '1' } }, { method: 'POST', url: 'https://u' }],
    [
      'uploadUrl',
      { data: { uploadUrl: 'https://u', fields: {} } },
      { method: 'POST', url: 'https://u' },
    ],
    [
      'presignedUrl, no fields → PUT',
      { data: { presignedUrl: 'https://u?X-Amz-Signature=s' } },
      { method: 'PUT', url: 'https://u?X-Amz-Signature=s' },
    ],
    ['signedUrl → PUT', { signedUrl: 'https://u' }, { method: 'PUT' }],
    ['taskId', { data: { url: 'https://u', taskId: 't1' } }, { taskId: 't1' }],
    ['id', { data: { url: 'https://u', id: 't2' } }, { taskId: 't2' }],
    ['csvTaskId (number)', { data: { url: 'https://u', csvTaskId: 42 } }, { taskId: '42' }],
    [
      'expiresAt',
      { data: { url: 'https://u', expiresAt: '2026-11-22T00:02:00Z' } },
      { expiresAt: new Date('2026-11-22T00:02:00Z'), expirySource: 'response' },
    ],
    [
      'expires',
      { data: { url: 'https://u', expires: '2026-11-22T00:03:00Z' } },
      { expiresAt: new Date('2026-11-22T00:03:00Z') },
    ],
    [
      'policy expiration',
      { data: { url: 'https://u', fields: { Policy: policy } } },
      { expiresAt: new Date('2026-11-22T00:04:00Z'), expirySource: 'policy' },
    ],
    [
      'lowercase policy',
      { data: { url: 'https://u', fields: { policy } } },
      { expirySource: 'policy' },
    ],
    [
      'no expiry → issue time + 300 s',
      { data: { url: 'https://u' } },
      { expiresAt: new Date(issued + 300_000), expirySource: 'assumed' },
    ],
  ])('reads %s', (_name, body, expected) => {
    expect(readUploadTarget(body, issued)).toMatchObject(expected);
  });

  it('names the keys, never the values, of a response without a URL', () => {
    let error: unknown;
    try {
      readUploadTarget(
        { data: { link: 'https://secret.example/?X-Amz-Signature=abc', token: 'tok' } },
        issued,
      );
    } catch (e) {
      error = e;
    }
    expect(isAtomicBulkError(error)).toBe(true);
    const e = error as AtomicBulkError;
    expect(e.message).toMatch(/no upload URL/);
    expect(e.context.detail).toBe('It had the keys: link, token.');
    expect(JSON.stringify(e.context) + e.message).not.toMatch(/secret\.example|abc|tok\b/);
  });
});

describe('AtomicClient against a local HTTP server', () => {
  it('gets a token with the grant in the query string and Basic auth, and sends Bearer and User-Agent', async () => {
    const server = await fakeAtomic(() => ({ status: 200, body: { data: [] } }));
    const { c } = client(server.url);
    await c.listFlows();
    const [tokenReq, apiReq] = server.requests;
    expect(tokenReq?.method).toBe('POST');
    expect(tokenReq?.url).toBe('/oauth2/token?grant_type=client_credentials&client_id=cid');
    expect(tokenReq?.headers.authorization).toBe(
      `Basic ${Buffer.from(`cid:${SECRET}`).toString('base64')}`,
    );
    expect(tokenReq?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(apiReq?.url).toBe('/v1/env1/action-flow');
    expect(apiReq?.headers.authorization).toBe(`Bearer ${TOKEN}-1`);
    expect(apiReq?.headers['user-agent']).toMatch(/^atomic-bulk\/\d+\.\d+\.\d+/);
  });

  it('reuses the token until 60 s before it expires', async () => {
    const server = await fakeAtomic(() => ({ status: 200, body: { data: [] } }));
    let now = 1_000_000;
    const { c } = client(server.url, { now: () => now });
    await c.listFlows();
    now += 3600_000 - 61_000;
    await c.listFlows();
    expect(server.requests.filter((r) => r.url.startsWith('/oauth2')).length).toBe(1);
    now += 2_000;
    await c.listFlows();
    expect(server.requests.filter((r) => r.url.startsWith('/oauth2')).length).toBe(2);
  });

  it('refreshes the token once and retries once after a 401', async () => {
    const server = await fakeAtomic((_p, n) =>
      n === 0 ? { status: 401, body: { message: 'expired' } } : { status: 200, body: { data: [] } },
    );
    const { c } = client(server.url);
    await c.listFlows();
    expect(server.requests.map((r) => r.url.split('?')[0])).toEqual([
      '/oauth2/token',
      '/v1/env1/action-flow',
      '/oauth2/token',
      '/v1/env1/action-flow',
    ]);
  });

  it('gives up with an AUTH error when the fresh token is refused too', async () => {
    const server = await fakeAtomic(() => ({ status: 401, body: { message: 'no' } }));
    const { c } = client(server.url);
    const error = await rejection(c.listFlows());
    expect(error.code).toBe('AUTH');
    expect(server.requests.filter((r) => r.url.startsWith('/v1')).length).toBe(2);
  });

  it('retries 429 honouring Retry-After, and 5xx with growing backoff (calls other than csv-task)', async () => {
    const answers = [
      { status: 429, body: {}, headers: { 'Retry-After': '3' } },
      { status: 503, body: {} },
      { status: 500, body: {} },
      { status: 200, body: { data: [] } },
    ];
    const server = await fakeAtomic((_p, n) => answers[n] ?? { status: 500, body: {} });
    const { c, sleeps } = client(server.url);
    expect(await c.listFlows()).toEqual([]);
    expect(sleeps).toEqual([3000, 750, 1500]);
  });

  it('retries a dropped connection', async () => {
    const server = await fakeAtomic((_p, n) =>
      n === 0 ? 'drop' : { status: 200, body: { data: [] } },
    );
    const { c, sleeps } = client(server.url);
    await c.listFlows();
    expect(sleeps).toHaveLength(1);
    expect(server.requests.at(-1)?.url).toBe('/v1/env1/action-flow');
  });

  it('stops after the bounded number of attempts', async () => {
    const server = await fakeAtomic(() => ({ status: 503, body: { message: 'down' } }));
    const { c, sleeps } = client(server.url, { retry: { maxAttempts: 4 } });
    const error = await rejection(c.listFlows());
    expect(error.code).toBe('API');
    expect(error.context.status).toBe(503);
    expect(sleeps).toHaveLength(3);
  });

  it('stops when the total retry time would run out', async () => {
    const server = await fakeAtomic(() => ({
      status: 429,
      body: {},
      headers: { 'Retry-After': '20' },
    }));
    const { c, sleeps } = client(server.url, { retry: { maxElapsedMs: 30_000 } });
    await rejection(c.listFlows());
    expect(sleeps).toEqual([20_000]);
  });
  it('leaves csv-task retries to the upload stage: one request, with the Retry-After it got', async () => {
    const server = await fakeAtomic(() => ({
      status: 429,
      body: {},
      headers: { 'Retry-After': '7' },
    }));
    const { c, sleeps } = client(server.url);
    const error = await rejection(c.createCsvTask('flow-1', 'live'));
    expect(error.context).toMatchObject({ status: 429, retryAfterMs: 7000 });
    expect(sleeps).toEqual([]);
    expect(server.requests.filter((r) => r.url.includes('csv-task'))).toHaveLength(1);
  });

  it('times out a request that never answers', async () => {
    const server = await testServer((req, res) => {
      if (req.url.startsWith('/oauth2')) json(res, 200, { access_token: TOKEN, expires_in: 3600 });
      // Otherwise never answer.
    });
    const { c } = client(server.url, { requestTimeoutMs: 150, retry: { maxAttempts: 2 } });
    const error = await rejection(c.listFlows());
    expect(error.message).toMatch(/timed out/);
  });

  it.each([
    [400, 'API'],
    [403, 'AUTH'],
    [404, 'NOT_FOUND'],
    [409, 'API'],
    [422, 'API'],
  ] as const)('does not retry HTTP %i (%s)', async (status, code) => {
    const server = await fakeAtomic(() => ({ status, body: { message: `refused ${status}` } }));
    const { c, sleeps } = client(server.url);
    const error = await rejection(c.createCsvTask('flow-1', 'live'));
    expect(error.code).toBe(code);
    expect(error.context.status).toBe(status);
    expect(error.context.detail).toContain(`refused ${status}`);
    expect(sleeps).toEqual([]);
  });

  it('reads the flow config through the API', async () => {
    const server = await fakeAtomic(() => ({
      status: 200,
      body: {
        data: { status: 'published', version: 4, config: { variables: { a: { type: 'number' } } } },
      },
    }));
    const { c } = client(server.url);
    const flow = await c.getFlowConfig('my flow', 'latest');
    expect(server.requests.at(-1)?.url).toBe('/v1/env1/action-flow/my%20flow/config/latest');
    expect(flow.version).toBe(4);
    expect(flow.config.variables.get('a')?.type).toBe('number');
  });

  it('keeps secrets out of error messages and details', async () => {
    const server = await fakeAtomic(() => ({
      status: 400,
      body: {
        message: `bad ${SECRET}`,
        echo: `Bearer ${TOKEN}-1`,
        url: 'https://bucket.s3/x?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA',
      },
    }));
    const { c } = client(server.url);
    const error = await rejection(c.createCsvTask('flow-1', 'live'));
    const text = `${error.message} ${JSON.stringify(error.context)}`;
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('deadbeef');
    expect(text).not.toContain('AKIA');
  });

  it('says what is wrong with credentials the token endpoint refuses', async () => {
    const server = await testServer((_req, res) => json(res, 400, { error: 'invalid_client' }));
    const { c } = client(server.url);
    const error = await rejection(c.listFlows());
    expect(error.code).toBe('AUTH');
    expect(error.context.hint).toMatch(/ATOMIC_CLIENT_ID/);
  });
});
