/**
 * An unscoped cancel request would cancel every card in the environment: no code path
 * may build one. `cancelQuery` is the only builder of cancel queries and refuses; the
 * client refuses before any byte is sent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient } from './client.js';
import { cancelQuery, readCancelled, readCards, type CancelScope } from './cards.js';

describe('cancel requests', () => {
  it.each(['', '   ', undefined, null])(
    'refuses to build one without an invocation id (%s)',
    (id) => {
      expect(() => cancelQuery({ flowInvocationId: id } as unknown as CancelScope, 10)).toThrow(
        /without a flowInvocationId/,
      );
    },
  );

  it('always scopes by the invocation id, adds multiple=1, and caps the batch at 1,000', () => {
    const q = cancelQuery({ flowInvocationId: 'id-1', status: 'active', userId: 'u' }, 5000);
    expect(Object.fromEntries(q)).toEqual({
      flowInvocationId: 'id-1',
      status: 'active',
      userId: 'u',
      multiple: '1',
      limit: '1000',
    });
  });

  it('sends nothing when asked to cancel without a scope', async () => {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'token-123456', expires_in: 3600 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new AtomicClient({
      baseUrl: base,
      environmentId: 'env',
      tokenUrl: `${base}/oauth2/token`,
      clientId: 'id',
      clientSecret: 'secret-1234',
    });
    await expect(client.cancelCards({ flowInvocationId: '' }, 10)).rejects.toThrow();
    expect(hits.filter((h) => h.includes('cancel'))).toEqual([]);
  });

  it('reads cards and cancel answers in the shapes Atomic may use', () => {
    expect(
      readCards({ data: [{ cardInstanceId: 'c1', flowInvocationId: 'i', status: 'active' }] }),
    ).toEqual([
      {
        cardInstanceId: 'c1',
        cardTemplateId: null,
        flowInvocationId: 'i',
        status: 'active',
        userId: null,
        created: null,
      },
    ]);
    // A status atomic-bulk does not know is counted as other, never as the server's text.
    expect(
      readCards([
        { cardInstanceId: 'c2', status: '\u001b[31mx', created: '2026-01-01T00:00:00Z' },
      ])[0],
    ).toMatchObject({
      status: 'other',
      created: Date.parse('2026-01-01T00:00:00Z'),
    });
    expect(() => readCards({ data: [{}, {}, {}] }, 2)).toThrow(/holds 3 cards where at most 2/);
    expect(readCancelled({ data: [{}, {}] })).toBe(2);
    expect(readCancelled({ data: { cancelled: 3 } })).toBe(3);
    expect(readCancelled({ count: 4 })).toBe(4);
    expect(() => readCancelled({ ok: true })).toThrow(/neither which nor how many/);
    for (const impossible of [-300_000_000, 1.5, 1001, Number.NaN])
      expect(() => readCancelled({ cancelled: impossible }, 1000)).toThrow(/which no request/);
  });
});
