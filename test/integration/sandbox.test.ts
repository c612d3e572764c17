import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient } from '../../src/api/client.js';
import { isAtomicBulkError, type AtomicBulkError } from '../../src/model/errors.js';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { uploadPart } from '../../src/upload/uploader.js';
import { tempDir } from '../e2e/cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

function clientFor(sb: Sandbox) {
  return new AtomicClient({
    baseUrl: sb.url,
    environmentId: sb.environmentId,
    tokenUrl: sb.tokenUrl,
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
  });
}

const HEADER =
  'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount,flowInvocationId';

async function partFile(rows: string[], header = HEADER): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, 'part-0001.csv');
  await writeFile(path, `${header}\n${rows.join('\n')}\n`);
  return path;
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

describe('the sandbox, through the real client and uploader', () => {
  it('serves a token, flows and configs, an upload target, and records one invocation per uploaded row', async () => {
    const sb = await sandbox();
    const api = clientFor(sb);
    const flows = await api.listFlows();
    expect(flows.map((f) => f.id).sort()).toEqual(['onboarding-checklist', 'renewal-reminder']);
    expect(flows.find((f) => f.id === 'renewal-reminder')?.variables).toEqual([
      'firstName',
      'amount',
      'renewalDate',
    ]);
    const flow = await api.getFlowConfig('renewal-reminder', 'latest');
    expect(flow.version).toBe(3);
    expect(await api.getFlowConfig('renewal-reminder', '3')).toMatchObject({ version: 3 });
    const target = await api.createCsvTask('renewal-reminder', 'live');
    expect(target).toMatchObject({ method: 'POST', expirySource: 'response' });
    expect(target.method === 'POST' && target.fields.map(([k]) => k)).toContain('Policy');
    const path = await partFile(['u1,"Smith, Jane",12.5,id-1', 'u2,Zoë,7,id-2']);
    const outcome = await uploadPart({ target, path, timeoutMs: 10_000 });
    expect(outcome).toEqual({ kind: 'accepted', status: 204 });
    await sb.settle();
    const invocations = sb.invocations();
    expect(invocations.map((i) => [i.flowInvocationId, i.target.atomic___id, i.variables])).toEqual(
      [
        ['id-1', 'u1', { firstName: 'Smith, Jane', amount: 12.5 }],
        ['id-2', 'u2', { firstName: 'Zoë', amount: 7 }],
      ],
    );
    expect(sb.tasks()[0]).toMatchObject({
      taskId: target.taskId,
      status: 'processed',
      rows: 2,
      created: 2,
    });
  });

  it.each(['post', 'put'] as const)(
    'stores a multi-MiB %s upload byte for byte',
    async (uploadMethod) => {
      const sb = await sandbox({
        uploadMethod,
        directUploads: true,
        maxUploadBytes: 64 * 1024 * 1024,
        keepUploads: true,
      });
      const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
      const rows = Array.from(
        { length: 100_000 },
        (_, i) => `u${i},"Name ${i}, ${'é'.repeat(i % 7)}",${i}.25,id-${i}`,
      );
      const path = await partFile(rows);
      const expected = await readFile(path);
      expect(expected.length).toBeGreaterThan(3.5 * 1024 * 1024);
      expect((await uploadPart({ target, path, timeoutMs: 30_000 })).kind).toBe('accepted');
      await sb.settle();
      expect(sb.stats().invocations).toBe(100_000);
      const task = sb.tasks()[0];
      expect(task?.bytes).toBe(expected.length);
      const hash = createHash('sha256');
      for await (const chunk of await sb.upload(task?.taskId ?? '')) hash.update(chunk);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
    },
  );

  it('is idempotent on flowInvocationId: same inputs add nothing, different inputs conflict', async () => {
    const sb = await sandbox();
    const api = clientFor(sb);
    const send = async (rows: string[]) => {
      const target = await api.createCsvTask('renewal-reminder', 'live');
      expect(
        (await uploadPart({ target, path: await partFile(rows), timeoutMs: 10_000 })).kind,
      ).toBe('accepted');
      await sb.settle();
    };
    await send(['u1,A,1,id-1', 'u2,B,2,id-2']);
    await send(['u1,A,1,id-1', 'u2,B,2,id-2']);
    await send(['u1,A,999,id-1']);
    expect(sb.stats()).toMatchObject({ invocations: 2, duplicates: 2, conflicts: 1 });
    expect(sb.tasks()[2]?.errors[0]?.message).toMatch(/different inputs/);
  });

  it('refuses an upload that arrives after its URL expired, with S3’s 403', async () => {
    const sb = await sandbox({ urlTtlSeconds: 1 });
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    await new Promise((r) => setTimeout(r, 1200));
    const outcome = await uploadPart({
      target,
      path: await partFile(['u1,A,1,id-1']),
      timeoutMs: 10_000,
    });
    expect(outcome).toMatchObject({ kind: 'expired', status: 403 });
    await sb.settle();
    expect(sb.stats().invocations).toBe(0);
  });

  it('refuses a file over the size cap, as the policy’s content-length-range says', async () => {
    const sb = await sandbox({ maxUploadBytes: 100 });
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    const rows = Array.from({ length: 20 }, (_, i) => `u${i},A,1,id-${i}`);
    const outcome = await uploadPart({ target, path: await partFile(rows), timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ kind: 'refused', status: 400 });
    expect(sb.tasks()[0]).toMatchObject({ status: 'rejected' });
    expect(sb.stats().invocations).toBe(0);
  });

  it('accepts a presigned PUT when configured for it', async () => {
    const sb = await sandbox({ uploadMethod: 'put' });
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'test');
    expect(target.method).toBe('PUT');
    expect(target.url).not.toMatch(/x-amz-checksum/i);
    const outcome = await uploadPart({
      target,
      path: await partFile(['u1,A,1,id-1']),
      timeoutMs: 10_000,
    });
    expect(outcome.kind).toBe('accepted');
    await sb.settle();
    expect(sb.invocations().map((i) => [i.flowInvocationId, i.mode])).toEqual([['id-1', 'test']]);
  });

  it('applies the flow’s variable rules to uploaded rows', async () => {
    const sb = await sandbox();
    const target = await clientFor(sb).createCsvTask('renewal-reminder', 'live');
    await uploadPart({
      target,
      path: await partFile(['u1,A,not-a-number,id-1', 'u2,B,2,id-2']),
      timeoutMs: 10_000,
    });
    await sb.settle();
    expect(sb.invocations().map((i) => i.flowInvocationId)).toEqual(['id-2']);
    expect(sb.tasks()[0]?.errors).toEqual([
      { line: 2, message: 'variable amount is not a number' },
    ]);
  });

  it('sends draft flows only in test mode', async () => {
    const sb = await sandbox();
    const api = clientFor(sb);
    const error = await rejection(api.createCsvTask('onboarding-checklist', 'live'));
    expect(error).toMatchObject({ code: 'API', context: { status: 422 } });
    expect(error.context.hint).toMatch(/--test/);
    expect((await api.createCsvTask('onboarding-checklist', 'test')).method).toBe('POST');
  });

  it('answers 404 for an unknown flow', async () => {
    const sb = await sandbox();
    const error = await rejection(clientFor(sb).getFlowConfig('nope', 'latest'));
    expect(error.code).toBe('NOT_FOUND');
  });

  it('answers 401 for revoked tokens, which the client survives by refreshing once', async () => {
    const sb = await sandbox();
    const api = clientFor(sb);
    await api.listFlows();
    sb.revokeTokens();
    await api.listFlows();
    expect(api.tokens.fetched).toBe(2);
  });

  it('limits running bulk tasks (files being received or processed) with 429', async () => {
    const sb = await sandbox({
      maxRunningTasks: 1,
      faults: { slowUploadRate: 1, slowUploadMs: 1500 },
    });
    const api = clientFor(sb);
    const target = await api.createCsvTask('renewal-reminder', 'live');
    // An unused URL is not a running task: another can be issued.
    const unused = await api.createCsvTask('renewal-reminder', 'live');
    expect(unused.taskId).not.toBe(target.taskId);
    const upload = uploadPart({ target, path: await partFile(['u1,A,1,id-1']), timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    const limited = new AtomicClient(sb.connection, {
      retry: { maxAttempts: 2 },
      sleep: () => Promise.resolve(),
    });
    const error = await rejection(limited.createCsvTask('renewal-reminder', 'live'));
    expect(error.context.status).toBe(429);
    expect((await upload).kind).toBe('accepted');
  });

  it('frees an upload whose client vanished after sending it whole, before the gateway read it', async () => {
    // The request is complete, then its socket closes while the gateway still waits
    // (latency): Node destroys the request, and its buffered body never ends.
    const sb = await sandbox({ faults: { latencyMs: 400 } });
    const api = clientFor(sb);
    const target = await api.createCsvTask('renewal-reminder', 'live');
    const url = new URL(target.url);
    const body = '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nx\r\n--b--\r\n';
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await sb.settle(5_000);
    expect(sb.tasks().find((t) => t.taskId === target.taskId)?.status).toBe('issued');
    // The URL can still be used, and the sandbox stops promptly.
    expect(
      (await uploadPart({ target, path: await partFile(['u1,A,1,id-1']), timeoutMs: 10_000 })).kind,
    ).toBe('accepted');
    await sb.settle(5_000);
    expect(sb.invocations()).toHaveLength(1);
  });

  it('injects faults deterministically under a seed', async () => {
    const decisions = async () => {
      const sb = await sandbox({ faults: { seed: 7, csvTask5xxRate: 0.5 }, maxRunningTasks: 0 });
      const api = new AtomicClient(
        {
          baseUrl: sb.url,
          environmentId: sb.environmentId,
          tokenUrl: sb.tokenUrl,
          clientId: sb.clientId,
          clientSecret: sb.clientSecret,
        },
        { retry: { maxAttempts: 1 } },
      );
      const out: boolean[] = [];
      for (let i = 0; i < 12; i++)
        out.push(
          await api.createCsvTask('renewal-reminder', 'live').then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const first = await decisions();
    expect(first).toContain(true);
    expect(first).toContain(false);
    expect(await decisions()).toEqual(first);
  });
});
