/**
 * What the tool trusts on the wire, against real HTTP servers that misbehave: an API that
 * redirects, hands out upload URLs into private networks, answers with gigabytes or with
 * terminal escape sequences. Nothing is mocked: the client and uploader use real fetch.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient } from '../../src/api/client.js';
import { checkUploadUrl, classify } from '../../src/api/transport.js';
import { isAtomicBulkError, type AtomicBulkError } from '../../src/model/errors.js';
import { resolveConnection } from '../../src/api/connection.js';
import { RENEWAL_FLOW, runCli } from '../e2e/cli.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function server(
  handler: Handler,
  host = '127.0.0.1',
): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const s: Server = createServer((req, res) => {
    hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  );
  const { port } = s.address() as AddressInfo;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, hits };
}

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A fake Atomic whose csv-task answer is `csvTask` (a token is always granted). */
function fakeAtomic(csvTask: Handler): Handler {
  return (req, res) => {
    if (req.url?.startsWith('/oauth2/token')) {
      json(res, 200, { access_token: 'tok-1234567890', expires_in: 3600 });
      return;
    }
    req.resume();
    csvTask(req, res);
  };
}

function client(baseUrl: string): AtomicClient {
  return new AtomicClient(
    {
      baseUrl,
      environmentId: 'env',
      tokenUrl: `${baseUrl}/oauth2/token`,
      clientId: 'id',
      clientSecret: 'secret-secret',
    },
    { retry: { maxAttempts: 1 }, requestTimeoutMs: 10_000 },
  );
}

async function failure(promise: Promise<unknown>): Promise<AtomicBulkError> {
  try {
    await promise;
  } catch (error) {
    if (isAtomicBulkError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

/** This machine's first non-loopback IPv4 address, to play an API that is not on loopback. */
function lanAddress(): string | null {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

describe('https only, except loopback', () => {
  it.each([
    ['http://api.example.com', 'ATOMIC_BASE_URL'],
    ['http://10.0.0.5:8080', 'ATOMIC_BASE_URL'],
    ['http://auth.example.com/oauth2/token', 'ATOMIC_TOKEN_URL'],
  ])('refuses %s as %s', (url, variable) => {
    const env = {
      ATOMIC_BASE_URL: 'https://org.customer-api.atomic.io',
      ATOMIC_ENVIRONMENT_ID: 'env',
      ATOMIC_CLIENT_ID: 'id',
      ATOMIC_CLIENT_SECRET: 'secret',
      [variable]: url,
    };
    let error: unknown = null;
    try {
      resolveConnection({}, env);
    } catch (e) {
      error = e;
    }
    expect(isAtomicBulkError(error) && error.code).toBe('CONFIG');
    expect((error as Error).message).toMatch(/must be an https:\/\/ URL/);
  });

  it.each([
    'http://127.0.0.1:4010',
    'http://localhost:4010',
    'http://[::1]:4010',
    'https://x.example',
  ])('accepts %s', (url) => {
    const env = {
      ATOMIC_BASE_URL: url,
      ATOMIC_TOKEN_URL: `${url}/oauth2/token`,
      ATOMIC_ENVIRONMENT_ID: 'env',
      ATOMIC_CLIENT_ID: 'id',
      ATOMIC_CLIENT_SECRET: 'secret',
    };
    expect(resolveConnection({}, env).baseUrl).toBe(url);
  });
});

describe('the S3 endpoint for s3:// inputs and reports', () => {
  it('must be https, or http on loopback', async () => {
    const run = await runCli([
      'validate',
      's3://drop/in.csv',
      '--flow-config',
      RENEWAL_FLOW,
      '--s3-endpoint',
      'http://10.1.2.3:9000',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'The S3 endpoint (--s3-endpoint or AWS_ENDPOINT_URL_S3) must be an https:// URL',
    );
    expect(run.stderr).toContain('campaign rows and reports would cross the network in clear text');
  });
});

describe('upload URLs', () => {
  it('classifies addresses as a metadata-service attacker would choose them', () => {
    expect(classify('169.254.169.254', 'ipv4')).toBe('link-local');
    expect(classify('10.1.2.3', 'ipv4')).toBe('private');
    expect(classify('172.31.0.1', 'ipv4')).toBe('private');
    expect(classify('192.168.1.1', 'ipv4')).toBe('private');
    expect(classify('127.0.0.53', 'ipv4')).toBe('loopback');
    expect(classify('::ffff:169.254.169.254', 'ipv6')).toBe('link-local');
    expect(classify('fd00:ec2::254', 'ipv6')).toBe('private');
    expect(classify('0.0.0.0', 'ipv4')).toBe('unspecified');
    expect(classify('52.95.110.1', 'ipv4')).toBe('public');
    expect(classify('2600:1f18::1', 'ipv6')).toBe('public');
  });

  it('refuses hosts that resolve to a private address, and any non-https URL, unless the API is on loopback', async () => {
    const resolvesTo = (address: string) => () => Promise.resolve([{ address, family: 4 }]);
    for (const [url, lookup] of [
      ['https://bucket.s3.amazonaws.com/x', resolvesTo('169.254.169.254')],
      ['https://rebind.example/x', resolvesTo('10.0.0.7')],
      ['https://169.254.169.254/latest/meta-data/', resolvesTo('52.95.110.1')],
      ['https://[::1]/x', resolvesTo('52.95.110.1')],
      ['http://bucket.s3.amazonaws.com/x', resolvesTo('52.95.110.1')],
      ['https://user:pw@bucket.s3.amazonaws.com/x', resolvesTo('52.95.110.1')],
    ] as const) {
      const error = await failure(checkUploadUrl(url, false, lookup));
      expect(error.context.fatal, url).toBe(true);
      expect(error.message).toMatch(/nothing was sent/);
    }
    await expect(
      checkUploadUrl('https://bucket.s3.amazonaws.com/x', false, resolvesTo('52.95.110.1')),
    ).resolves.toBeUndefined();
    await expect(
      checkUploadUrl('http://127.0.0.1:9000/x', true, resolvesTo('127.0.0.1')),
    ).resolves.toBeUndefined();
  });

  const lan = lanAddress();
  it.runIf(lan !== null)(
    'a csv-task pointing at 169.254.169.254, 10.x or 127.x is refused before any byte is sent (API not on loopback)',
    async () => {
      // A listener on loopback stands for the internal service; it must see no request.
      const internal = await server((req, res) => {
        req.resume();
        res.end();
      });
      const internalPort = new URL(internal.url).port;
      for (const uploadUrl of [
        'https://169.254.169.254/latest/meta-data/',
        'https://10.0.0.1/upload',
        `https://127.0.0.1:${internalPort}/upload`,
        `http://127.0.0.1:${internalPort}/upload`,
      ]) {
        const api = await server(
          fakeAtomic((_req, res) =>
            json(res, 201, { data: { taskId: 't1', url: uploadUrl, fields: { key: 'k' } } }),
          ),
          lan as string,
        );
        const error = await failure(client(api.url).createCsvTask('flow', 'live'));
        expect(error.message, uploadUrl).toMatch(/upload URL .*nothing was sent/);
        expect(error.context.fatal).toBe(true);
      }
      expect(internal.hits).toEqual([]);
    },
  );
});

describe('API answers', () => {
  it('treats a 302 from the API as an error and never asks the other origin', async () => {
    const elsewhere = await server((_req, res) =>
      json(res, 201, { data: { taskId: 't', url: 'http://127.0.0.1:1/x', fields: {} } }),
    );
    const api = await server(
      fakeAtomic((_req, res) => {
        res.writeHead(302, { Location: `${elsewhere.url}/v1/env/action-flow/flow/csv-task?sig=1` });
        res.end();
      }),
    );
    const error = await failure(client(api.url).createCsvTask('flow', 'live'));
    expect(error.message).toContain('answered with a redirect (HTTP 302)');
    expect(error.message).not.toContain('sig=1');
    expect(error.context.fatal).toBe(true);
    expect(elsewhere.hits).toEqual([]);
    // The token endpoint may not redirect either.
    const tokenRedirect = await server((_req, res) => {
      res.writeHead(307, { Location: `${elsewhere.url}/oauth2/token` });
      res.end();
    });
    const tokenError = await failure(client(tokenRedirect.url).listFlows());
    expect(tokenError.message).toContain('redirect (HTTP 307)');
    expect(elsewhere.hits).toEqual([]);
  });

  it('refuses an endless csv-task answer after 1 MiB, without buffering it', async () => {
    let sent = 0;
    const api = await server(
      fakeAtomic((_req, res) => {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        const chunk = Buffer.alloc(1 << 20, 0x20);
        const pump = () => {
          while (sent < 1024 * (1 << 20)) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.on('close', () => undefined);
        pump();
      }),
    );
    const before = process.memoryUsage().rss;
    const error = await failure(client(api.url).createCsvTask('flow', 'live'));
    expect(error.message).toContain('larger than 1 MiB');
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    expect(sent).toBeLessThan(256 * 1024 * 1024);
  });

  it('refuses a declared 1 GB answer without reading it', async () => {
    const api = await server(
      fakeAtomic((_req, res) => {
        res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': String(1e9) });
        res.write('{');
      }),
    );
    const error = await failure(client(api.url).createCsvTask('flow', 'live'));
    expect(error.message).toContain('larger than 1 MiB; it was not read');
  });

  it('shows escape sequences in an error body as text, never raw', async () => {
    const api = await server(
      fakeAtomic((_req, res) =>
        json(res, 400, { message: 'bad \u001b[2J\u001b[31mred\u0007 request' }),
      ),
    );
    const error = await failure(client(api.url).createCsvTask('flow', 'live'));
    // JSON keeps the escape as \u001b text in the raw body; a plain-text body is the hard case.
    expect(`${error.message} ${error.context.detail ?? ''}`).not.toContain('\u001b');
    const plain = await server(
      fakeAtomic((_req, res) => {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end('bad \u001b[2J\u001b[31mred\u0007 request\r\nhidden');
      }),
    );
    const raw = await failure(client(plain.url).createCsvTask('flow', 'live'));
    // eslint-disable-next-line no-control-regex -- asserting that no control character survives
    expect(raw.context.detail ?? '').not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f]/);
    expect(raw.context.detail).toContain('\\u{1b}[2J');
  });
});
