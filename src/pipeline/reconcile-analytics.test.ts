import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testServer } from '../../test/http-server.js';
import type { ExportFile } from '../api/analytics.js';
import type { CardsApi } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Report } from '../model/report.js';
import type { SentRun } from '../reconcile/run-source.js';
import { coverage, exportUnavailable, lookAtExport, periodsOf } from './reconcile-analytics.js';

const H = 3_600_000;
const file = (from: number | null, to: number | null) => ({
  url: 'https://x.test/f',
  from,
  to,
  format: 'ndjson' as const,
});

describe('coverage of the export', () => {
  it('runs from the asked start without a gap', () => {
    expect(coverage([file(0, H), file(H, 2 * H), file(2 * H, 3 * H)], 10)).toBe(3 * H);
    expect(coverage([file(2 * H, 3 * H), file(0, H), file(H, 2 * H)], 10)).toBe(3 * H);
  });
  it('stops at a gap, and at a first file that starts late', () => {
    expect(coverage([file(0, H), file(2 * H, 3 * H)], 10)).toBe(H);
    expect(coverage([file(H, 2 * H)], 10)).toBe(10);
    expect(coverage([], 10)).toBe(10);
  });
  it('is unknown when a file does not say its period', () => {
    expect(coverage([file(0, H), file(null, null)], 10)).toBeNull();
  });
});

describe('--source auto and a listing that fails', () => {
  const api = (status?: number) =>
    new AtomicBulkError(
      'API',
      'GET analytics export failed',
      status === undefined ? {} : { status },
    );
  it('asks the Cards API for any refusal, unreadable answer or server error', () => {
    expect(exportUnavailable(api(404))).toBe('the analytics export is not offered here');
    expect(
      exportUnavailable(new AtomicBulkError('NOT_FOUND', 'not offered', { status: 404 })),
    ).toBe('the analytics export is not offered here');
    expect(exportUnavailable(new AtomicBulkError('AUTH', 'forbidden', { status: 403 }))).toBe(
      'the analytics export could not be listed (HTTP 403)',
    );
    expect(exportUnavailable(api(400))).toBe('the analytics export could not be listed (HTTP 400)');
    expect(exportUnavailable(api(503))).toBe('the analytics export could not be listed (HTTP 503)');
    expect(exportUnavailable(api())).toBe(
      'the analytics export could not be listed (no usable answer)',
    );
  });
  it('lets an interruption or a bug stop the command', () => {
    expect(exportUnavailable(new AtomicBulkError('INTERRUPTED', 'stopped'))).toBeNull();
    expect(exportUnavailable(new Error('bug'))).toBeNull();
  });
});

describe('--wait and a listing of the same periods', () => {
  async function runOf(ids: string[]): Promise<SentRun> {
    const dir = await mkdtemp(join(tmpdir(), 'look-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'invocations.csv');
    await writeFile(
      path,
      `line,flowInvocationId\n${ids.map((id, k) => `${k + 2},${id}`).join('\n')}\n`,
    );
    const started = new Date(Date.now() - 60_000).toISOString();
    return {
      folder: dir,
      report: { startedAt: started, finishedAt: started } as unknown as Report,
      invocationsPath: path,
      rows: ids.length,
      close: () => Promise.resolve(),
    };
  }

  /** Looks for 200 ms, every 50 ms, at an export that always lists `files`; disposed. */
  async function lookFor(ids: string[], files: ExportFile[]) {
    const api = { listAnalyticsExport: () => Promise.resolve(files) } as unknown as CardsApi;
    const look = await lookAtExport(await runOf(ids), {
      api,
      waitMs: 200,
      intervalMs: 50,
      now: () => new Date(),
      notBefore: null,
    });
    await look.dispose();
    return look;
  }

  it('downloads each exported period once, however many looks list it', async () => {
    const ids = ['id-0', 'id-1', 'id-2'];
    const at = Date.now() - 30_000;
    const event = (id: string) =>
      `${JSON.stringify({ analyticsEvent: 'card-published', timestamp: new Date(at).toISOString(), properties: { flowInvocationId: id } })}\n`;
    const server = await testServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      // Hour 0 publishes id-0; hour 1 id-1 (id-2 never has an event: the look keeps waiting).
      res.end(req.url.startsWith('/h0') ? event('id-0') : event('id-1'));
    });
    let listings = 0;
    const h0 = { url: `${server.url}/h0`, from: 0, to: H, format: 'ndjson' as const };
    const h1 = { url: `${server.url}/h1`, from: H, to: 2 * H, format: 'ndjson' as const };
    const api = {
      listAnalyticsExport: () => {
        listings++;
        // Three listings name hour 0 (each with a fresh URL, as signed URLs are), then both.
        const fresh = (f: typeof h0) => ({ ...f, url: `${f.url}?sig=${listings}` });
        return Promise.resolve(listings <= 3 ? [fresh(h0)] : [fresh(h0), fresh(h1)]);
      },
    } as unknown as CardsApi;
    const polls: number[] = [];
    const look = await lookAtExport(await runOf(ids), {
      api,
      waitMs: 400,
      intervalMs: 60,
      now: () => new Date(),
      notBefore: null,
      onPoll: (p) => polls.push(p.withCards),
    });
    await look.dispose();
    expect(look.polls).toBeGreaterThanOrEqual(5);
    expect(polls.slice(0, 3)).toEqual([1, 1, 1]);
    expect(polls.at(-1)).toBe(2);
    // Hour 0 once for the first three listings, then only the new hour 1.
    expect(server.requests.map((r) => r.url.replace(/\?.*/, ''))).toEqual(['/h0', '/h1']);
    expect(look.requests).toBe(look.polls + 2);
    // Both hours' events were joined at the last look, hour 0's from the kept runs.
    expect(look.counts.byOutcome.published).toBe(2);
    expect(look.stats.lines).toBe(2);
  });

  it('reads every file of a period that comes as several files', async () => {
    const at = new Date(Date.now() - 30_000).toISOString();
    const server = await testServer((req, res) => {
      const id = req.url.startsWith('/a') ? 'id-0' : 'id-1';
      res.end(
        `${JSON.stringify({ analyticsEvent: 'card-published', timestamp: at, properties: { flowInvocationId: id } })}\n`,
      );
    });
    const files = [
      { url: `${server.url}/a`, from: 0, to: H, format: 'ndjson' as const },
      { url: `${server.url}/b`, from: 0, to: H, format: 'ndjson' as const },
    ];
    const look = await lookFor(['id-0', 'id-1', 'id-2'], files);
    expect(look.counts.byOutcome.published).toBe(2);
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b']);
  });

  it('reads every file of a listing whose periods are not said, at every look', async () => {
    const server = await testServer((_req, res) => {
      res.end('');
    });
    const look = await lookFor(
      ['a'],
      [{ url: `${server.url}/x`, from: null, to: null, format: 'ndjson' }],
    );
    expect(server.requests.length).toBe(look.polls);
    expect(
      periodsOf([{ url: 'https://x.test/u', from: null, to: 1, format: 'ndjson' }]),
    ).toBeNull();
    expect(periodsOf([{ url: 'not a url', from: 0, to: 1, format: 'ndjson' }])).toBeNull();
    // Two files of one period are two files.
    const part = (n: number) => ({ ...h(0), url: `https://x.test/0-part${n}?sig=1` });
    expect(periodsOf([part(1), part(2)])).not.toBe(periodsOf([part(1)]));
    expect(periodsOf([h(1), h(0)])).toBe(periodsOf([h(0), h(1)]));
  });
});

function h(k: number) {
  return {
    url: `https://x.test/${k}?sig=${Math.random()}`,
    from: k * H,
    to: (k + 1) * H,
    format: 'ndjson' as const,
  };
}
