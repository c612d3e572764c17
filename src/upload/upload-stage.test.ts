/**
 * One retry policy, one budget: csv-task failures are retried by the upload stage only
 * (the HTTP layer does not retry them too), so a part costs at most `maxAttempts` csv-task
 * requests however the endpoint fails, every wait is capped, and an interrupt ends a wait
 * at once. Runs a real AtomicClient against a real HTTP server on loopback.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { json, testServer, type Handler } from '../../test/http-server.js';
import { tempDir } from '../../test/e2e/cli.js';
import { AtomicClient } from '../api/client.js';
import type { Part } from '../model/part.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../model/retry.js';
import { uploadParts, type PartOutcome } from './upload-stage.js';

async function* parts(n: number): AsyncGenerator<Part> {
  const dir = await tempDir();
  for (let k = 1; k <= n; k++) {
    const path = join(dir, `part-${k}.csv`);
    await writeFile(path, 'target.attributes.atomic___id,flowInvocationId\nu1,id-1\n');
    yield {
      number: k,
      path,
      bytes: 50,
      rows: 1,
      sha256: '0'.repeat(64),
      firstLine: 2,
      lastLine: 2,
      firstRecord: 1,
      lastRecord: 1,
      idsPath: null,
      idsSha256: null,
    };
  }
}

/** The API answers the token endpoint and hands every csv-task request to `csvTask`. */
async function api(csvTask: Handler) {
  const server = await testServer((req, res, n) => {
    if (req.url.startsWith('/oauth2/token'))
      return json(res, 200, { access_token: 'tok', expires_in: 3600, token_type: 'Bearer' });
    return csvTask(req, res, n);
  });
  const client = new AtomicClient(
    {
      baseUrl: server.url,
      environmentId: 'env1',
      tokenUrl: `${server.url}/oauth2/token`,
      clientId: 'cid',
      clientSecret: 'secret',
    },
    { sleep: () => Promise.resolve() },
  );
  const csvTasks = () => server.requests.filter((r) => r.url.includes('/csv-task')).length;
  return { client, csvTasks };
}

async function run(
  client: AtomicClient,
  n: number,
  options: {
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    signal?: AbortSignal;
    retry?: Partial<RetryPolicy>;
    now?: () => number;
    random?: () => number;
  },
): Promise<PartOutcome[]> {
  const out: PartOutcome[] = [];
  for await (const o of uploadParts(parts(n), {
    api: client,
    flowConfigId: 'flow',
    mode: 'live',
    concurrency: 2,
    tracker: { isUploaded: () => false, attempting: () => Promise.resolve() },
    ...options,
  }))
    out.push(o);
  return out;
}

describe('one retry policy for both layers', () => {
  it('stops the upload stage and the HTTP client after the same attempts and the same time', async () => {
    const policy: RetryPolicy = {
      maxAttempts: 10,
      maxElapsedMs: 5_000,
      baseDelayMs: 1_000,
      maxDelayMs: 4_000,
    };
    // A clock that only the waits move: 1 s, 2 s, then a 4 s wait would pass 5 s.
    const clock = () => {
      let t = 0;
      return {
        now: () => t,
        sleep: (ms: number) => {
          t += ms;
          return Promise.resolve();
        },
      };
    };
    const server = await testServer((req, res) =>
      req.url.startsWith('/oauth2/token')
        ? json(res, 200, { access_token: 'tok', expires_in: 3600, token_type: 'Bearer' })
        : json(res, 503, { message: 'down' }),
    );
    const settings = {
      baseUrl: server.url,
      environmentId: 'env1',
      tokenUrl: `${server.url}/oauth2/token`,
      clientId: 'cid',
      clientSecret: 'secret',
    };
    const httpClock = clock();
    const http = new AtomicClient(settings, {
      retry: policy,
      ...httpClock,
      random: () => 1,
    });
    await expect(http.listFlows()).rejects.toThrow(/still failed after retries \(HTTP 503\)/);
    const flowRequests = server.requests.filter((r) => r.url.includes('/action-flow')).length;
    const stageClock = clock();
    const stage = new AtomicClient(settings, { sleep: () => Promise.resolve() });
    const [outcome] = await run(stage, 1, { retry: policy, ...stageClock, random: () => 1 });
    const csvTasks = server.requests.filter((r) => r.url.includes('/csv-task')).length;
    expect([flowRequests, csvTasks]).toEqual([3, 3]);
    expect(outcome?.attempts).toBe(3);
    expect(outcome?.error).toMatch(/^gave up after 3 attempts in 3 s: /);
    expect([httpClock.now(), stageClock.now()]).toEqual([3_000, 3_000]);
  });
});

describe('the upload stage’s retry budget', () => {
  it('asks a csv-task endpoint that answers 503 forever at most maxAttempts times per part', async () => {
    const { client, csvTasks } = await api((_req, res) => json(res, 503, { message: 'down' }));
    const waits: number[] = [];
    const outcomes = await run(client, 3, {
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'failed']);
    expect(outcomes.every((o) => o.attempts === DEFAULT_RETRY.maxAttempts)).toBe(true);
    // Six requests per part (it was 36: six HTTP retries inside each of six part attempts).
    expect(csvTasks()).toBe(3 * DEFAULT_RETRY.maxAttempts);
    expect(outcomes[0]?.error).toMatch(/csv-task failed \(HTTP 503\)/);
    expect(Math.max(...waits)).toBeLessThanOrEqual(DEFAULT_RETRY.maxDelayMs);
  });

  it.each([
    ['seconds', '120'],
    ['an HTTP date', 'Wed, 21 Oct 2099 07:28:00 GMT'],
  ])('honours a Retry-After in %s on 429, capped, within the same budget', async (_kind, after) => {
    const { client, csvTasks } = await api((_req, res) =>
      json(res, 429, { message: 'busy' }, { 'Retry-After': after }),
    );
    const waits: number[] = [];
    const outcomes = await run(client, 1, {
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    expect(outcomes[0]?.status).toBe('failed');
    expect(csvTasks()).toBe(DEFAULT_RETRY.maxAttempts);
    expect(waits).toHaveLength(DEFAULT_RETRY.maxAttempts - 1);
    expect(waits.every((w) => w === DEFAULT_RETRY.maxDelayMs)).toBe(true);
  });

  it('waits what Retry-After says when it is short', async () => {
    const { client } = await api((_req, res, n) =>
      n < 3
        ? json(res, 429, {}, { 'Retry-After': '2' })
        : json(res, 200, { url: 'http://127.0.0.1:9/never' }),
    );
    const waits: number[] = [];
    const controller = new AbortController();
    await run(client, 1, {
      signal: controller.signal,
      sleep: (ms) => {
        waits.push(ms);
        if (waits.length === 2) controller.abort();
        return Promise.resolve();
      },
    });
    expect(waits.slice(0, 2)).toEqual([2000, 2000]);
  });

  it('stops a sleeping retry at once when interrupted', async () => {
    const { client } = await api((_req, res) => json(res, 429, {}, { 'Retry-After': '30' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    const outcomes = await run(client, 1, { signal: controller.signal, sleep: undefined });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(outcomes[0]?.status).toBe('failed');
    expect(outcomes[0]?.error).toMatch(/interrupted/);
  });
});
