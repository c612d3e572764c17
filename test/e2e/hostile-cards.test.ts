/**
 * Every answer of the Cards API is bounded and checked (issue 22): a server that ignores
 * `offset`, answers a page longer than asked, a 60 MiB page, a negative or impossible
 * cancel count, a cancel that never shrinks its scope, and statuses full of escape
 * sequences. Each run ends quickly with a clear message and exit 3, sends a bounded number
 * of requests, and puts no raw server text into a report.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Sealer, sealJson } from '../../src/model/seal.js';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { json, testServer, type Recorded } from '../http-server.js';
import { expectNoStack, runCli, sendArgs, tempDir } from './cli.js';

const CLIENT = { id: 'hostile-test-client', secret: 'hostile-test-secret' };
const HEADER = 'target.attributes.atomic___id,payload.variables.firstName';

type Mode =
  'ignores-offset' | 'long-page' | 'huge-page' | 'negative-count' | 'never-shrinks' | 'escapes';

function card(k: number, id: string, status = 'active') {
  return { cardInstanceId: `card-${k}`, cardTemplateId: 't', flowInvocationId: id, status };
}

/** A Cards API that lies in one way; tokens are real enough for the client. */
function hostile(mode: Mode) {
  return (req: Recorded, res: ServerResponse) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/oauth2/token') {
      json(res, 200, { access_token: 'tok', expires_in: 3600, token_type: 'Bearer' });
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const id = url.searchParams.get('flowInvocationId') ?? 'none';
    if (url.pathname.endsWith('/cards')) {
      if (mode === 'ignores-offset') {
        json(res, 200, { data: Array.from({ length: limit }, (_, k) => card(k, id)) });
        return;
      }
      if (mode === 'long-page') {
        json(res, 200, { data: Array.from({ length: limit + 1 }, (_, k) => card(k, id)) });
        return;
      }
      if (mode === 'huge-page') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const filler = JSON.stringify(card(0, id, 'x'.repeat(1 << 20)));
        res.write('{"data":[');
        for (let k = 0; k < 60; k++) res.write(`${k > 0 ? ',' : ''}${filler}`);
        res.end(']}');
        return;
      }
      if (mode === 'escapes') {
        json(res, 200, { data: [card(1, id, '\u001b[31mred\u0007\r<script>')] });
        return;
      }
      json(res, 200, { data: [card(1, id)] });
      return;
    }
    if (url.pathname.endsWith('/cards/cancel')) {
      if (mode === 'negative-count') {
        json(res, 200, { cancelled: -300_000_000 });
        return;
      }
      if (mode === 'never-shrinks') {
        json(res, 200, { cancelled: limit });
        return;
      }
      json(res, 200, { cancelled: 1 });
      return;
    }
    json(res, 404, {});
  };
}

/** A real send's report folder, re-sealed as if sent to `baseUrl` with the test client. */
async function reportFor(baseUrl: string, environmentId: string): Promise<string> {
  const sb = await createSandbox({ clientId: CLIENT.id, clientSecret: CLIENT.secret });
  onTestFinished(() => sb.stop());
  const dir = await tempDir();
  const input = join(dir, 'c.csv');
  await writeFile(input, `${HEADER}\ncustomer-01,Ann\ncustomer-02,Bob\ncustomer-03,Cy\n`);
  const report = join(dir, 'report');
  const sent = await runCli(sendArgs(input, join(dir, 'state'), report), { env: sb.env });
  expect(sent.code, sent.stderr).toBe(0);
  const parsed = JSON.parse(await readFile(join(report, 'report.json'), 'utf8')) as {
    destination: object;
  };
  parsed.destination = { ...parsed.destination, apiOrigin: baseUrl, environmentId };
  const sealer = Sealer.fromCredentials(CLIENT.id, CLIENT.secret);
  await writeFile(join(report, 'report.json'), sealJson(sealer, 'report', parsed));
  return report;
}

async function against(mode: Mode, command: string[]) {
  const server = await testServer(hostile(mode));
  const report = await reportFor(server.url, 'env-h');
  const env = {
    ATOMIC_BASE_URL: server.url,
    ATOMIC_TOKEN_URL: `${server.url}/oauth2/token`,
    ATOMIC_ENVIRONMENT_ID: 'env-h',
    ATOMIC_CLIENT_ID: CLIENT.id,
    ATOMIC_CLIENT_SECRET: CLIENT.secret,
  };
  const started = Date.now();
  const run = await runCli([...command.slice(0, 1), report, ...command.slice(1)], {
    env,
    timeoutMs: 60_000,
  });
  return { run, report, requests: server.requests, ms: Date.now() - started };
}

describe('a Cards API that lies', () => {
  it.each([
    ['ignores-offset', ['reconcile', '--strategy', 'template'], /does not page/],
    ['ignores-offset', ['reconcile'], /does not page|kept answering full pages/],
    ['long-page', ['reconcile'], /holds 101 cards where at most 100 were asked for/],
    ['huge-page', ['reconcile'], /larger than .* MiB; it was not read/],
    ['negative-count', ['cancel', '--yes'], /cancelled -300000000 cards, which no request/],
    ['never-shrinks', ['cancel', '--yes'], /does not shrink its scope/],
  ] as const)('%s (%s): stops with exit 3 in bounded requests', async (mode, command, message) => {
    const { run, requests, ms } = await against(mode, [...command]);
    expect(run.code, run.stderr).toBe(3);
    expectNoStack(run);
    expect(run.stderr).toMatch(message);
    expect(requests.length).toBeLessThan(60);
    expect(ms).toBeLessThan(30_000);
  });

  it('counts unknown statuses as other and keeps escape sequences out of every report', async () => {
    const { run, report } = await against('escapes', ['reconcile']);
    // A status it does not know is not counted as delivered: exit 4, named as other.
    expect(run.code, run.stderr).toBe(4);
    const json = readFileSync(join(report, 'report.json'), 'utf8');
    expect(JSON.parse(json)).toMatchObject({
      reconcile: { cardsByStatus: { other: 3 }, rowsByOutcome: { other: 3, delivered: 0 } },
    });
    for (const file of ['report.json', 'report.md', 'report.html', 'reconciled.csv']) {
      const text = readFileSync(join(report, file), 'utf8');
      for (const control of ['\u001b', '\u0007', '\r']) expect(text, file).not.toContain(control);
      expect(text, file).not.toContain('<script>');
    }
  });
});
