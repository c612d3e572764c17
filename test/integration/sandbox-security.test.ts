/**
 * The sandbox as an attacker on the same machine sees it: every port it opens, requests
 * without credentials, with a forged Host, with path traversal in keys, and malformed
 * multipart bodies (the published dicer crash among them). Nothing may be read, nothing
 * written, and the sandbox must keep serving.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient } from '../../src/api/client.js';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { uploadPart } from '../../src/upload/uploader.js';
import type { UploadTarget } from '../../src/model/upload-target.js';
import { BIN, tempDir } from '../e2e/cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

function clientFor(sb: Sandbox) {
  return new AtomicClient(sb.connection);
}

interface Raw {
  status: number;
  body: string;
}

/** One HTTP request with exactly these headers (Host included), over node:http. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Raw> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: { host: target.host, ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function accessToken(sb: Sandbox): Promise<string> {
  const answer = await raw(`${sb.tokenUrl}?grant_type=client_credentials`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${sb.clientId}:${sb.clientSecret}`).toString('base64')}`,
    },
  });
  return (JSON.parse(answer.body) as { access_token: string }).access_token;
}

const HEADER =
  'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,flowInvocationId';

async function partFile(rows: string[]): Promise<string> {
  const path = join(await tempDir(), 'part-0001.csv');
  await writeFile(path, `${HEADER}\n${rows.join('\n')}\n`);
  return path;
}

/** A valid upload must still work: the sandbox kept serving. */
async function stillServes(sb: Sandbox): Promise<void> {
  const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
  const outcome = await uploadPart({
    target,
    path: await partFile([`u-${Date.now()},A,1,id-${Date.now()}`]),
    timeoutMs: 10_000,
  });
  expect(outcome.kind).toBe('accepted');
}

function multipart(
  boundary: string,
  parts: string,
): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(Buffer.byteLength(parts)),
    },
    body: parts,
  };
}

describe('the sandbox refuses what it does not know', () => {
  it('serves the inspection routes only with the inspection token', async () => {
    const sb = await sandbox();
    await stillServes(sb);
    await sb.settle();
    for (const route of ['/sandbox/invocations', '/sandbox/tasks', '/sandbox/stats']) {
      const anonymous = await raw(`${sb.url}${route}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).not.toContain('atomic___id');
      const wrong = await raw(`${sb.url}${route}`, {
        headers: { authorization: `Bearer ${sb.inspectionToken.slice(1)}x` },
      });
      expect(wrong.status).toBe(401);
      // An API access token is not an inspection token.
      const api = await raw(`${sb.url}${route}`, {
        headers: { authorization: `Bearer ${await accessToken(sb)}` },
      });
      expect(api.status).toBe(401);
      const ok = await raw(`${sb.url}${route}`, {
        headers: { authorization: `Bearer ${sb.inspectionToken}` },
      });
      expect(ok.status).toBe(200);
    }
    const data = JSON.parse(
      (
        await raw(`${sb.url}/sandbox/invocations`, {
          headers: { authorization: `Bearer ${sb.inspectionToken}` },
        })
      ).body,
    ) as { data: unknown[] };
    expect(data.data).toHaveLength(1);
  });

  it('answers only to its own address in Host, on the API and the store (DNS rebinding)', async () => {
    const sb = await sandbox();
    const store = new URL(sb.s3Endpoint);
    for (const host of ['evil.example', `evil.example:${new URL(sb.url).port}`, '127.0.0.2']) {
      const api = await raw(`${sb.url}/oauth2/token?grant_type=client_credentials`, {
        method: 'POST',
        headers: {
          host,
          authorization: `Basic ${Buffer.from(`${sb.clientId}:${sb.clientSecret}`).toString('base64')}`,
        },
      });
      expect(api.status).toBe(403);
      expect(api.body).not.toContain('access_token');
      const s3 = await raw(`${sb.s3Endpoint}/atomic-sandbox`, {
        method: 'POST',
        headers: { host: host.replace(/:\d+$/, `:${store.port}`) },
      });
      expect(s3.status).toBe(403);
    }
    await stillServes(sb);
  });

  it('lets nobody read, list or write the store without a valid signature, and no key escapes it', async () => {
    const sb = await sandbox({ directUploads: true, keepUploads: true });
    await stillServes(sb);
    await sb.settle();
    const key = sb.tasks()[0]?.key ?? '';
    expect(key).not.toBe('');
    const before = await readdir(tmpdir());
    const attempts: [string, string, string | undefined][] = [
      ['GET', `/atomic-sandbox/${key}`, undefined],
      ['GET', '/atomic-sandbox', undefined],
      ['GET', '/', undefined],
      ['HEAD', `/atomic-sandbox/${key}`, undefined],
      ['DELETE', `/atomic-sandbox/${key}`, undefined],
      ['PUT', '/atomic-sandbox/..%2F..%2Fatomic-bulk-escape.txt', 'owned'],
      ['PUT', '/atomic-sandbox/../../atomic-bulk-escape.txt', 'owned'],
      ['PUT', `/atomic-sandbox/${key}`, 'overwritten'],
      ['POST', '/atomic-sandbox', 'x'],
      ['PUT', '/other-bucket/x.csv', 'x'],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await raw(`${sb.s3Endpoint}${path}`, {
        method,
        ...(body === undefined ? {} : { body, headers: { 'content-length': String(body.length) } }),
      });
      expect(answer.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(answer.body).not.toContain('u-');
    }
    expect(existsSync(join(tmpdir(), 'atomic-bulk-escape.txt'))).toBe(false);
    expect(existsSync(join(process.cwd(), 'atomic-bulk-escape.txt'))).toBe(false);
    expect(await readdir(tmpdir())).toEqual(before);
    // The object is still the one the tool uploaded.
    let stored = '';
    for await (const chunk of await sb.upload(sb.tasks()[0]?.taskId ?? ''))
      stored += Buffer.from(chunk).toString('utf8');
    expect(stored).toContain('u-');
  });

  it('refuses a presigned PUT whose key, expiry or signature was changed', async () => {
    const sb = await sandbox({ uploadMethod: 'put' });
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    const url = new URL(target.url);
    const tampered: [string, (u: URL) => void][] = [
      ['key', (u) => (u.pathname = u.pathname.replace(/[^/]+\.csv$/, '..%2F..%2Fescape.csv'))],
      ['expiry', (u) => u.searchParams.set('X-Amz-Expires', '604800')],
      ['signature', (u) => u.searchParams.set('X-Amz-Signature', '0'.repeat(64))],
      [
        'credential',
        (u) => u.searchParams.set('X-Amz-Credential', 'AKIA/20200101/us-east-1/s3/aws4_request'),
      ],
    ];
    for (const [what, change] of tampered) {
      const u = new URL(url);
      change(u);
      const forged: UploadTarget = { ...target, url: u.toString() };
      const outcome = await uploadPart({
        target: forged,
        path: await partFile(['u1,A,1,id-1']),
        timeoutMs: 10_000,
      });
      expect(outcome.kind, what).toBe('refused');
    }
    await sb.settle();
    expect(sb.stats().invocations).toBe(0);
    // The untouched URL still works.
    const ok = await uploadPart({
      target,
      path: await partFile(['u1,A,1,id-1']),
      timeoutMs: 10_000,
    });
    expect(ok.kind).toBe('accepted');
  });

  it('refuses a POST whose policy, key or fields were changed', async () => {
    const sb = await sandbox({ directUploads: true });
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    if (target.method !== 'POST') throw new Error('expected a POST');
    const change = (name: string, value: string | null): UploadTarget => ({
      ...target,
      fields:
        value === null
          ? target.fields.filter(([n]) => n !== name)
          : target.fields.some(([n]) => n === name)
            ? target.fields.map(([n, v]) => [n, n === name ? value : v])
            : [...target.fields, [name, value]],
    });
    const policy = target.fields.find(([n]) => n === 'Policy')?.[1] ?? '';
    const widened = Buffer.from(
      Buffer.from(policy, 'base64')
        .toString('utf8')
        .replace(/"content-length-range",0,\d+/, '"content-length-range",0,999999999999'),
    ).toString('base64');
    for (const [what, forged] of [
      ['another key', change('key', '../../escape.csv')],
      ['a widened policy', change('Policy', widened)],
      ['no signature', change('X-Amz-Signature', null)],
      ['an extra field', change('acl', 'public-read')],
      ['another bucket', change('bucket', 'other')],
    ] as const) {
      const outcome = await uploadPart({
        target: forged,
        path: await partFile(['u1,A,1,id-1']),
        timeoutMs: 10_000,
      });
      expect(outcome.kind, what).toBe('refused');
      expect(outcome.kind === 'refused' && outcome.status, what).toBeGreaterThanOrEqual(400);
    }
    await sb.settle();
    expect(sb.stats().invocations).toBe(0);
  });

  it('leaves no temporary file or open handle behind when a signed form fails after its file began, and refuses it at once', async () => {
    const sb = await sandbox({ directUploads: true });
    const uploads = join(sb.folder, 'uploads');
    for (let k = 0; k < 20; k++) {
      const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
      if (target.method !== 'POST') throw new Error('expected a POST');
      const b = 'B0undary';
      const fields = target.fields
        .map(([n, v]) => `--${b}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`)
        .join('');
      const file = (name: string) =>
        `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n${HEADER}\nu${k},A,1\r\n`;
      // The policy checks out and the file begins; a second file then refuses the form
      // while the first one's temporary file is being opened.
      const asked = Date.now();
      const answer = await raw(target.url, {
        method: 'POST',
        ...multipart(b, `${fields}${file('a.csv')}${file('b.csv')}--${b}--\r\n`),
      });
      expect(answer.status).toBeGreaterThanOrEqual(400);
      // Refused at once, not after the body drain's time limit.
      expect(Date.now() - asked).toBeLessThan(1000);
    }
    // Whatever is still finishing has a moment; then nothing half-received is left.
    await new Promise((r) => setTimeout(r, 200));
    const left = (await readdir(uploads)).filter((f) => f.startsWith('.upload-'));
    expect(left).toEqual([]);
    await stillServes(sb);
  });

  it('answers the dicer crash (a folded part header) with 400 and keeps serving, on the store and the gateway', async () => {
    const sb = await sandbox();
    const boundary = '----WebKitFormBoundaryoo6vortfDzBsDiro';
    const poc = multipart(
      boundary,
      `--${boundary}\r\n Content-Disposition: form-data; name="bildbeschreibung"\r\n\r\n\r\n--${boundary}--`,
    );
    const store = await raw(`${sb.s3Endpoint}/atomic-sandbox`, { method: 'POST', ...poc });
    expect(store.status).toBe(400);
    expect(store.body).toContain('MalformedPOSTRequest');
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    const gateway = await raw(target.url, { method: 'POST', ...poc });
    expect(gateway.status).toBe(400);
    await stillServes(sb);
  });

  it('survives thousands of malformed multipart bodies with a 4xx each', async () => {
    const sb = await sandbox({ directUploads: true });
    const url = `${sb.s3Endpoint}/atomic-sandbox`;
    const piece = fc.oneof(
      fc.constantFrom(
        '--B',
        '--B--',
        '\r\n',
        '\r\n\r\n',
        ' ',
        'Content-Disposition: form-data; name="key"',
        'Content-Disposition: form-data; name="file"; filename="x.csv"',
        'Content-Disposition: form-data',
        'Content-Disposition: form-data; name="',
        'Policy',
        'X-Amz-Signature: 0',
        '\t',
        '"',
        ';',
        ':',
      ),
      fc.string({ maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 30 }), async (pieces) => {
        const answer = await raw(url, { method: 'POST', ...multipart('B', pieces.join('')) });
        return answer.status >= 400 && answer.status < 500;
      }),
      { numRuns: 1500 },
    );
    await stillServes(sb);
    await sb.settle();
    expect(sb.stats().invocations).toBe(1);
  }, 120_000);
});

describe('atomic-bulk sandbox', () => {
  it('never takes a real ATOMIC_CLIENT_SECRET as its own, and prints its own credentials', async () => {
    const realSecret = 'real-client-secret-from-the-workbench';
    const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0'], {
      env: { ...process.env, ATOMIC_CLIENT_SECRET: realSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ATOMIC_SANDBOX_TOKEN=')) resolve();
      });
      child.once('exit', () => reject(new Error(`sandbox exited: ${err}`)));
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(out).not.toContain(realSecret);
    expect(err).not.toContain(realSecret);
    const vars = Object.fromEntries(
      [...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    expect(vars.ATOMIC_CLIENT_SECRET).toMatch(/^[\w-]{20,}$/);
    const basic = (secret: string) =>
      `Basic ${Buffer.from(`${vars.ATOMIC_CLIENT_ID ?? ''}:${secret}`).toString('base64')}`;
    const tokenUrl = `${vars.ATOMIC_TOKEN_URL ?? ''}?grant_type=client_credentials`;
    expect(
      (await raw(tokenUrl, { method: 'POST', headers: { authorization: basic(realSecret) } }))
        .status,
    ).toBe(401);
    expect(
      (await raw(tokenUrl, { method: 'POST', headers: { authorization: basic('sandbox-secret') } }))
        .status,
    ).toBe(401);
    expect(
      (
        await raw(tokenUrl, {
          method: 'POST',
          headers: { authorization: basic(vars.ATOMIC_CLIENT_SECRET ?? '') },
        })
      ).status,
    ).toBe(200);
    const stats = await raw(`${vars.ATOMIC_BASE_URL ?? ''}/sandbox/stats`, {
      headers: { authorization: `Bearer ${vars.ATOMIC_SANDBOX_TOKEN ?? ''}` },
    });
    expect(stats.status).toBe(200);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
});
