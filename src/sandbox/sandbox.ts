/**
 * A local stand-in for Atomic (SPEC 5): an HTTP server on 127.0.0.1 with the token
 * endpoint, flow list and config (seeded from samples/flows), csv-task and csv-task/test,
 * backed by its own object store (local-store.ts, which verifies presigned POSTs and PUTs
 * as S3 does) or any S3-compatible server. Presigned POSTs carry a content-length-range and
 * expiry policy; uploads go through the sandbox's gateway, which enforces both even when
 * an S3 server does not, injects faults, and then processes the file like Atomic:
 * one invocation per row, idempotent on flowInvocationId.
 *
 * Nothing is open to whoever can reach 127.0.0.1: the API needs an access token (from the
 * client credentials, random per start unless given), the /sandbox/* inspection routes a
 * separate inspection token, uploads a valid signature; every request must name the
 * sandbox's own address in Host, so a web page cannot reach it through DNS rebinding.
 *
 * The tool's core never imports this module; the CLI loads it only for --sandbox and the
 * sandbox command.
 */
import { AtomicBulkError } from '../model/errors.js';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionSettings } from '../api/connection.js';
import { parseFlowConfig, type FlowConfig } from '../model/flow.js';
import { Faults, type FaultOptions } from './faults.js';
import { InvocationStore, processUpload, type SandboxInvocation } from './processor.js';
import { openObjectStore, type S3BackendOptions } from './object-store.js';

export const SANDBOX_CLIENT_ID = 'sandbox-client';
export const SANDBOX_ENVIRONMENT = 'sandbox';

export interface SandboxOptions {
  /** Port of the API; 0 (default) picks a free one. */
  port?: number;
  /** Directory of flow JSON files. Default: the package's samples/flows. */
  flowsDir?: string;
  environmentId?: string;
  clientId?: string;
  /** The client secret the token endpoint accepts. Default: random, made at start. */
  clientSecret?: string;
  /** Use this S3-compatible store instead of the sandbox's own. */
  s3?: S3BackendOptions;
  /** Hand out URLs straight to S3 (no gateway); uploads are then found by polling. */
  directUploads?: boolean;
  /** Presigned POST (default, as Atomic documents) or PUT. PUT implies direct uploads. */
  uploadMethod?: 'post' | 'put';
  /** Largest accepted upload, in bytes. Default 32,000,000. */
  maxUploadBytes?: number;
  /** Validity of upload URLs, in seconds. Default 300. */
  urlTtlSeconds?: number;
  /** Validity of access tokens, in seconds. Default 3600. */
  tokenTtlSeconds?: number;
  /** Bulk tasks running at once per environment before csv-task answers 429. Default 5; 0 = no limit. */
  maxRunningTasks?: number;
  faults?: FaultOptions;
  /** Keep every invocation's payload for /sandbox/invocations. Default true. */
  storePayloads?: boolean;
  /**
   * Uploaded files are processed once uploads have been quiet this long, so processing
   * never slows a bulk send down (Atomic processes on its own machines). Default 300 ms.
   */
  processQuietMs?: number;
  /** Called with one line per request (method, path, status); no secrets. */
  log?: (line: string) => void;
  /**
   * Called with every credential the sandbox hands out: access tokens, and the policy
   * and signature of each presigned URL. For tests that prove none of them leaks.
   */
  onCredential?: (kind: 'access-token' | 'policy' | 'signature', value: string) => void;
}

export type TaskStatus =
  'issued' | 'uploading' | 'queued' | 'processing' | 'processed' | 'failed' | 'rejected';

export interface SandboxTask {
  taskId: string;
  flowId: string;
  mode: 'live' | 'test';
  key: string;
  createdAt: string;
  expiresAt: string;
  status: TaskStatus;
  uploadAttempts: number;
  uploadedAt: string | null;
  bytes: number | null;
  rows: number;
  created: number;
  duplicates: number;
  conflicts: number;
  errors: { line: number; message: string }[];
  /** Why an upload was refused or processing failed. */
  reason: string | null;
}

export interface SandboxStats {
  tasks: number;
  invocations: number;
  duplicates: number;
  conflicts: number;
  rowErrors: number;
  faults: Record<string, number>;
}

export interface Sandbox {
  /** API base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly tokenUrl: string;
  readonly environmentId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Bearer token for the /sandbox/* inspection routes (random per start). */
  readonly inspectionToken: string;
  readonly s3Endpoint: string;
  /** ATOMIC_* environment variables that point the tool at this sandbox. */
  readonly env: Record<string, string>;
  /** Connection settings for an AtomicClient talking to this sandbox. */
  readonly connection: ConnectionSettings;
  invocations(): SandboxInvocation[];
  /** The bytes a task's upload left in the store (for tests that compare them). */
  upload(taskId: string): Promise<AsyncIterable<Uint8Array>>;
  tasks(): SandboxTask[];
  stats(): SandboxStats;
  /** Waits until every uploaded file has been processed. */
  settle(timeoutMs?: number): Promise<void>;
  /** Invalidates every issued access token, as a server-side revocation would. */
  revokeTokens(): void;
  stop(): Promise<void>;
}

interface Task extends SandboxTask {
  /** Where the gateway forwards uploads (the bucket URL). */
  s3Url: string;
  expiresAtMs: number;
}

interface Reply {
  status: number;
  /** JSON-serialisable value, or a string sent as XML (S3 style); '' for no body. */
  body: unknown;
  headers: Record<string, string>;
}

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body, headers };
}

const xmlText = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const S3_XML = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlText(code)}</Code><Message>${xmlText(message)}</Message></Error>`;

export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const flows = await loadFlows(options.flowsDir ?? defaultFlowsDir());
  const s3 = await openObjectStore(options.s3);
  const faults = new Faults(options.faults);
  const store = new InvocationStore(options.storePayloads ?? true);
  const environmentId = options.environmentId ?? SANDBOX_ENVIRONMENT;
  const clientId = options.clientId ?? SANDBOX_CLIENT_ID;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const inspectionToken = randomBytes(24).toString('base64url');
  const maxUploadBytes = options.maxUploadBytes ?? 32_000_000;
  const urlTtlSeconds = options.urlTtlSeconds ?? 300;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const maxRunning = options.maxRunningTasks ?? 5;
  const method = options.uploadMethod ?? 'post';
  const direct = options.directUploads === true || method === 'put';
  const tokens = new Map<string, number>();
  const tasks = new Map<string, Task>();
  const queue: Task[] = [];
  let processing: Promise<void> | null = null;
  let stopping = false;
  /** Requests the gateway has open to S3, ended on stop so S3 can close. */
  const upstreams = new Set<ClientRequest>();
  const quietMs = options.processQuietMs ?? 300;
  /** Uploads passing through the gateway right now, and when the last one began or ended. */
  let gatewayUploads = 0;
  let lastGatewayActivity = 0;
  /**
   * Processing waits while uploads are in flight or have been busy in the last 300 ms
   * (a bulk send uploads part after part), then yields to the event loop between slices.
   */
  const pause = () =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stopping) {
          reject(new Error('the sandbox stopped'));
          return;
        }
        const quietSince = Math.max(lastGatewayActivity, s3.lastWriteAt);
        if (gatewayUploads > 0 || s3.activeWrites > 0 || Date.now() - quietSince < quietMs)
          setTimeout(check, 20);
        else setImmediate(resolve);
      };
      check();
    });
  let baseUrl = '';
  /** Host header values the sandbox answers to; filled once the port is known. */
  const allowedHosts = new Set<string>();
  let poller: NodeJS.Timeout | null = null;

  const latency = async () => {
    const ms = faults.options.latencyMs ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  };

  /** Bulk tasks running: files being received or processed (a URL nobody used is not a task). */
  const running = () => {
    let n = 0;
    for (const t of tasks.values()) if (t.status === 'uploading' || t.status === 'processing') n++;
    return n;
  };

  const enqueue = (task: Task) => {
    task.status = 'queued';
    queue.push(task);
    processing ??= drain().finally(() => {
      processing = null;
    });
  };

  async function drain(): Promise<void> {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      task.status = 'processing';
      const flow = flows.get(task.flowId)?.config as FlowConfig;
      try {
        await pause();
        const result = await processUpload(await s3.read(task.key), task, flow, store, pause);
        Object.assign(task, {
          status: 'processed',
          rows: result.rows,
          created: result.created,
          duplicates: result.duplicates,
          conflicts: result.conflicts,
          errors: result.errors,
        });
      } catch (error) {
        task.status = 'failed';
        task.reason = `the file could not be processed: ${(error as Error).message}`;
      }
    }
  }

  /** Routes one request; returns the reply, or null when the response was written already. */
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<Reply | null> => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      await drainBody(req);
      return reply(403, { message: 'This sandbox answers only to its own address (Host header).' });
    }
    await latency();

    if (req.method === 'POST' && path === '/oauth2/token') {
      await drainBody(req);
      const grant = url.searchParams.get('grant_type');
      const auth = req.headers.authorization ?? '';
      const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
      if (faults.next('token-429'))
        return reply(
          429,
          { error: 'too_many_requests' },
          { 'Retry-After': String(faults.options.retryAfterSeconds ?? 1) },
        );
      if (grant !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
      if (auth !== expected) return reply(401, { error: 'invalid_client' });
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, Date.now() + tokenTtlSeconds * 1000);
      options.onCredential?.('access-token', token);
      return reply(200, { access_token: token, expires_in: tokenTtlSeconds, token_type: 'Bearer' });
    }

    if (path.startsWith('/sandbox/')) {
      await drainBody(req);
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!sameToken(given, inspectionToken))
        return reply(401, {
          message: 'The inspection routes need "Authorization: Bearer <inspection token>".',
        });
    }
    if (path === '/sandbox/invocations' && req.method === 'GET')
      return reply(200, { data: store.invocations });
    if (path === '/sandbox/tasks' && req.method === 'GET')
      return reply(200, { data: [...tasks.values()].map(publicTask) });
    if (path === '/sandbox/stats' && req.method === 'GET') return reply(200, { data: stats() });

    const upload = /^\/upload\/([\w-]+)$/.exec(path);
    if (upload !== null && req.method === 'POST')
      return gateway(req, res, tasks.get(upload[1] as string));

    const api =
      /^\/v1\/([^/]+)\/action-flow(?:\/([^/]+)(\/config\/([^/]+)|\/csv-task(\/test)?)?)?$/.exec(
        path,
      );
    if (api === null) return reply(404, { message: 'Not found' });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = bearer === undefined ? undefined : tokens.get(bearer);
    if (expiry !== undefined && faults.next('token-revoked')) tokens.delete(bearer as string);
    if (expiry === undefined || expiry <= Date.now() || !tokens.has(bearer as string)) {
      await drainBody(req);
      return reply(401, {
        message: expiry === undefined ? 'Unauthorized' : 'The access token expired or was revoked',
      });
    }
    if (api[1] !== environmentId) return reply(404, { message: 'Environment not found' });
    const flowId = api[2] === undefined ? undefined : decodeURIComponent(api[2]);
    if (flowId === undefined) {
      if (req.method !== 'GET') return reply(405, { message: 'Method not allowed' });
      const name = url.searchParams.get('name');
      const status = url.searchParams.get('status');
      const list = [...flows.values()]
        .filter(
          (f) =>
            (name ? f.name.toLowerCase().includes(name.toLowerCase()) : true) &&
            (status ? f.status === status : true),
        )
        .map((f) => ({
          id: f.id,
          name: f.name,
          description: f.description,
          status: f.status,
          created: f.created,
          updated: f.updated,
          variables: [...f.config.variables.keys()],
          invocationUrl: `${baseUrl}/v1/${environmentId}/action-flow/${f.id}/start`,
        }));
      return reply(200, { data: list });
    }
    const flow = flows.get(flowId);
    if (api[3] !== undefined && api[3].startsWith('/config/')) {
      const version = api[4] ?? 'latest';
      if (flow === undefined || (version !== 'latest' && version !== String(flow.version)))
        return reply(404, { message: 'Flow config not found' });
      return reply(200, {
        data: {
          status: flow.status,
          config: flow.raw.config,
          created: flow.created,
          updated: flow.updated,
          version: flow.version,
        },
      });
    }
    if (req.method !== 'POST') return reply(405, { message: 'Method not allowed' });
    await drainBody(req);
    if (flow === undefined) return reply(404, { message: 'Flow not found' });
    const mode = api[5] === undefined ? 'live' : 'test';
    if (mode === 'live' && flow.status !== 'published') {
      return reply(422, {
        message:
          'The flow is not published; live bulk sends need a published flow. Use csv-task/test to reach test users.',
      });
    }
    if (faults.next('csv-task-429') || (maxRunning > 0 && running() >= maxRunning)) {
      return reply(
        429,
        { message: 'Too many bulk tasks are running in this environment' },
        { 'Retry-After': String(faults.options.retryAfterSeconds ?? 1) },
      );
    }
    if (faults.next('csv-task-5xx')) return reply(503, { message: 'Service unavailable' });
    const taskId = randomUUID();
    const key = `csv-tasks/${environmentId}/${flowId}/${taskId}.csv`;
    const now = Date.now();
    const task: Task = {
      taskId,
      flowId,
      mode,
      key,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + urlTtlSeconds * 1000).toISOString(),
      expiresAtMs: now + urlTtlSeconds * 1000,
      status: 'issued',
      uploadAttempts: 0,
      uploadedAt: null,
      bytes: null,
      rows: 0,
      created: 0,
      duplicates: 0,
      conflicts: 0,
      errors: [],
      reason: null,
      s3Url: s3.bucketUrl(),
    };
    tasks.set(taskId, task);
    if (method === 'put') {
      const putUrl = await s3.presignPut(key, urlTtlSeconds);
      const signature = new URL(putUrl).searchParams.get('X-Amz-Signature');
      if (signature !== null) options.onCredential?.('signature', signature);
      return reply(201, { data: { taskId, url: putUrl, expiresAt: task.expiresAt } });
    }
    const post = await s3.presignPost(key, maxUploadBytes, urlTtlSeconds);
    for (const [name, value] of Object.entries(post.fields)) {
      const lower = name.toLowerCase();
      if (lower === 'policy') options.onCredential?.('policy', value);
      else if (lower === 'x-amz-signature') options.onCredential?.('signature', value);
    }
    return reply(201, {
      data: {
        taskId,
        url: direct ? post.url : `${baseUrl}/upload/${taskId}`,
        fields: post.fields,
        expiresAt: task.expiresAt,
      },
    });
  };

  /** The upload gateway: checks expiry, injects faults, forwards to S3, enforces the size cap. */
  async function gateway(
    req: IncomingMessage,
    res: ServerResponse,
    task: Task | undefined,
  ): Promise<Reply | null> {
    if (task === undefined) {
      await drainBody(req);
      return reply(404, S3_XML('NoSuchUpload', 'No such upload.'));
    }
    task.uploadAttempts++;
    if (task.status !== 'issued') {
      await drainBody(req);
      return reply(403, S3_XML('AccessDenied', 'This upload URL was already used.'));
    }
    task.status = 'uploading';
    gatewayUploads++;
    lastGatewayActivity = Date.now();
    try {
      if (faults.next('upload-slow'))
        await new Promise((r) => setTimeout(r, faults.options.slowUploadMs ?? 3000));
      if (Date.now() > task.expiresAtMs) {
        task.status = 'issued';
        await drainBody(req);
        return reply(403, S3_XML('AccessDenied', 'Invalid according to Policy: Policy expired.'));
      }
      if (faults.next('upload-reset')) {
        // Read a little, then drop the connection mid-upload.
        await new Promise<void>((resolve) => {
          if (req.destroyed || req.readableEnded) resolve();
          req.once('data', () => resolve());
          req.once('end', () => resolve());
          req.once('close', () => resolve());
          req.once('error', () => resolve());
        });
        task.status = 'issued';
        req.socket.destroy();
        options.log?.(`POST /upload/${task.taskId} reset`);
        return null;
      }
      if (faults.next('upload-5xx')) {
        task.status = 'issued';
        await drainBody(req);
        return reply(503, S3_XML('SlowDown', 'Please reduce your request rate.'));
      }
      const upstream = await forward(req, task.s3Url, upstreams);
      if (upstream.status === 400 && upstream.body.includes('<Code>EntityTooLarge</Code>')) {
        task.status = 'rejected';
        task.reason = `the file is over the ${maxUploadBytes}-byte limit`;
        return reply(upstream.status, upstream.body);
      }
      if (upstream.status < 200 || upstream.status >= 300) {
        task.status = 'issued';
        return reply(upstream.status, upstream.body);
      }
      const head = await s3.head(task.key);
      const size = head?.size ?? 0;
      if (size > maxUploadBytes) {
        await s3.delete(task.key);
        task.status = 'rejected';
        task.reason = `the file is ${size} bytes, over the ${maxUploadBytes}-byte limit`;
        return reply(
          400,
          S3_XML('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'),
        );
      }
      task.bytes = size;
      task.uploadedAt = new Date().toISOString();
      enqueue(task);
      return reply(204, '');
    } catch (error) {
      // The client went away mid-upload, or S3 failed: the URL may be tried again.
      task.status = 'issued';
      return reply(502, S3_XML('InternalError', `upload gateway: ${(error as Error).message}`));
    } finally {
      gatewayUploads--;
      lastGatewayActivity = Date.now();
    }
  }

  /** For direct uploads: notices objects that arrived and processes them. */
  const poll = async () => {
    // A store may show an object while it is still being written (S3 never does): wait.
    if (s3.activeWrites > 0) return;
    for (const task of tasks.values()) {
      if (task.status !== 'issued') continue;
      const head = await s3.head(task.key).catch(() => null);
      // An upload that began meanwhile may be this object, half written: look again later.
      if (s3.activeWrites > 0) return;
      if (head === null) continue;
      task.bytes = head.size;
      task.uploadedAt = new Date().toISOString();
      if (head.size > maxUploadBytes) {
        task.status = 'rejected';
        task.reason = `the file is ${head.size} bytes, over the ${maxUploadBytes}-byte limit`;
        await s3.delete(task.key);
      } else if (
        head.lastModified !== null &&
        head.lastModified.getTime() > task.expiresAtMs + 1000
      ) {
        task.status = 'rejected';
        task.reason = 'the file arrived after its upload URL expired';
      } else {
        enqueue(task);
      }
    }
  };

  const stats = (): SandboxStats => ({
    tasks: tasks.size,
    invocations: store.created,
    duplicates: store.duplicates,
    conflicts: store.conflicts,
    rowErrors: [...tasks.values()].reduce((n, t) => n + t.errors.length, 0),
    faults: Object.fromEntries(faults.injected),
  });

  const server: Server = createServer((req, res) => {
    handle(req, res)
      .catch((error: unknown) =>
        reply(500, { message: `sandbox error: ${(error as Error).message}` }),
      )
      .then((answer) => {
        if (answer === null || res.headersSent) return;
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        const type = typeof answer.body === 'string' ? 'application/xml' : 'application/json';
        res.writeHead(
          answer.status,
          text === '' ? answer.headers : { 'Content-Type': type, ...answer.headers },
        );
        res.end(text);
        options.log?.(
          `${req.method ?? ''} ${new URL(req.url ?? '/', 'http://sandbox').pathname} ${answer.status}`,
        );
      })
      .catch(() => res.destroy());
  });
  const wanted = options.port ?? 0;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await s3.stop();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new AtomicBulkError(
        'USAGE',
        `port ${wanted} is ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; use --port N or --port 0.`,
      );
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  allowedHosts.add(`127.0.0.1:${port}`).add(`localhost:${port}`);
  if (direct) {
    const tick = () => {
      poller = setTimeout(() => {
        void poll().finally(() => {
          if (poller !== null) tick();
        });
      }, 200);
    };
    tick();
  }

  return {
    url: baseUrl,
    tokenUrl: `${baseUrl}/oauth2/token`,
    environmentId,
    clientId,
    clientSecret,
    inspectionToken,
    s3Endpoint: s3.endpoint,
    connection: {
      baseUrl,
      environmentId,
      tokenUrl: `${baseUrl}/oauth2/token`,
      clientId,
      clientSecret,
    },
    env: {
      ATOMIC_BASE_URL: baseUrl,
      ATOMIC_ENVIRONMENT_ID: environmentId,
      ATOMIC_TOKEN_URL: `${baseUrl}/oauth2/token`,
      ATOMIC_CLIENT_ID: clientId,
      ATOMIC_CLIENT_SECRET: clientSecret,
    },
    invocations: () => [...store.invocations],
    upload(taskId) {
      const task = tasks.get(taskId);
      if (task === undefined) return Promise.reject(new Error(`no task ${taskId}`));
      return s3.read(task.key);
    },
    tasks: () => [...tasks.values()].map(publicTask),
    stats,
    async settle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (direct) await poll();
        const busy = [...tasks.values()].some(
          (t) => t.status === 'uploading' || t.status === 'queued' || t.status === 'processing',
        );
        if (!busy && processing === null) return;
        if (Date.now() > deadline) {
          const busy = [...tasks.values()].filter(
            (t) => t.status === 'uploading' || t.status === 'queued' || t.status === 'processing',
          );
          throw new Error(
            `sandbox: uploads still being processed (${busy.map((t) => t.status).join(', ')}; ${gatewayUploads} in the gateway, ${s3.activeWrites} in S3)`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    revokeTokens() {
      tokens.clear();
    },
    async stop() {
      if (stopping) return;
      // Unprocessed uploads are abandoned, not waited for.
      stopping = true;
      if (poller !== null) clearTimeout(poller);
      poller = null;
      server.closeAllConnections();
      server.close();
      for (const upstream of upstreams) upstream.destroy();
      await processing?.catch(() => undefined);
      await s3.stop();
    },
  };
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function publicTask(task: Task): SandboxTask {
  const { s3Url: _url, expiresAtMs: _ms, ...rest } = task;
  return { ...rest, errors: [...rest.errors] };
}

interface SeededFlow {
  id: string;
  name: string;
  description: string | null;
  status: string;
  version: number | string;
  created: string;
  updated: string;
  config: FlowConfig;
  raw: { config: unknown };
}

function defaultFlowsDir(): string {
  return fileURLToPath(new URL('../../samples/flows/', import.meta.url));
}

async function loadFlows(dir: string): Promise<Map<string, SeededFlow>> {
  const flows = new Map<string, SeededFlow>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const raw = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
      data?: Record<string, unknown>;
    } & Record<string, unknown>;
    const data = raw.data ?? raw;
    const config = parseFlowConfig(raw, join(dir, file));
    const id = typeof data.id === 'string' ? data.id : file.replace(/\.json$/, '');
    flows.set(id, {
      id,
      name: typeof data.name === 'string' ? data.name : id,
      description: typeof data.description === 'string' ? data.description : null,
      status: typeof data.status === 'string' ? data.status : 'published',
      version:
        typeof data.version === 'number' || typeof data.version === 'string' ? data.version : 1,
      created: typeof data.created === 'string' ? data.created : new Date(0).toISOString(),
      updated: typeof data.updated === 'string' ? data.updated : new Date(0).toISOString(),
      config,
      raw: { config: data.config ?? { variables: data.variables } },
    });
  }
  return flows;
}

/** Reads and discards the body; returns when it ended or the client went away. */
async function drainBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
  });
}

/** Streams the incoming multipart body to the S3 bucket URL; returns S3's answer. */
function forward(
  req: IncomingMessage,
  bucketUrl: string,
  active: Set<ClientRequest>,
): Promise<{ status: number; body: string }> {
  // The client may have gone while the request waited (latency, a slow-upload fault).
  // Node destroys the request when its socket closes, even one received complete, and a
  // destroyed stream never ends: piping it would wait forever.
  if (req.destroyed) return Promise.reject(new Error('the client disconnected before the upload'));
  const target = new URL(bucketUrl);
  const headers: Record<string, string> = { host: target.host };
  for (const name of ['content-type', 'content-length', 'transfer-encoding']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      {
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => (body += d));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, body }));
        response.on('error', reject);
      },
    );
    active.add(upstream);
    upstream.on('close', () => active.delete(upstream));
    upstream.on('error', reject);
    req.on('error', (error) => upstream.destroy(error));
    // A client that disconnects before sending the whole body ends the upload here too.
    req.on('close', () => {
      if (!req.readableEnded) upstream.destroy(new Error('the client disconnected mid-upload'));
    });
    req.pipe(upstream);
  });
}
