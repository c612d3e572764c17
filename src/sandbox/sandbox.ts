/**
 * A local stand-in for Atomic (SPEC 5): an HTTP server on 127.0.0.1 with the token
 * endpoint, flow list and config (seeded from samples/flows), csv-task and csv-task/test,
 * and the Cards API, backed by its own object store (local-store.ts, which verifies
 * presigned POSTs and PUTs as S3 does) or any S3-compatible server. Uploads go through the
 * sandbox's gateway (gateway.ts), and are then processed like Atomic does
 * (processing.ts): one invocation per row, idempotent on flowInvocationId, and cards for
 * the users the row's targets match in the customer directory (directory.ts, cards.ts).
 *
 * Nothing is open to whoever can reach 127.0.0.1: the API needs an access token (from the
 * client credentials, random per start unless given), the /sandbox/* inspection routes a
 * separate inspection token, uploads a valid signature; every request must name the
 * sandbox's own address in Host, so a web page cannot reach it through DNS rebinding.
 *
 * The tool's core never imports this module; the CLI loads it only for --sandbox and the
 * sandbox command.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ConnectionSettings } from '../api/connection.js';
import { makeOwnedTempDir, removeOwnedTempDir, sweepOrphans } from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import type { CardView } from './cards.js';
import {
  publicTask,
  SandboxContext,
  type NoCardReason,
  type SandboxOptions,
  type SandboxTask,
} from './context.js';
import { defaultFlowsDir, loadFlows } from './flows.js';
import { createGateway } from './gateway.js';
import { closeUnlessRead, drainBody, reply, type Reply } from './http.js';
import { openObjectStore, type ObjectStore } from './object-store.js';
import type { SandboxInvocation } from './processor.js';
import { Processing } from './processing.js';
import { apiRoute, inspectionRoute, stats, tokenRoute, type SandboxStats } from './routes.js';

export {
  DEFAULT_CANCEL_PATH,
  SANDBOX_CLIENT_ID,
  SANDBOX_ENVIRONMENT,
  type NoCardReason,
  type SandboxOptions,
  type SandboxTask,
  type TaskStatus,
} from './context.js';
export type { DirectoryUser } from './directory.js';
export type { SandboxStats } from './routes.js';
export type { CardView } from './cards.js';

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
  /** The sandbox's private folder (uploads in flight, what it keeps per row); removed on stop. */
  readonly folder: string;
  /** ATOMIC_* environment variables that point the tool at this sandbox. */
  readonly env: Record<string, string>;
  /** Connection settings for an AtomicClient talking to this sandbox. */
  readonly connection: ConnectionSettings;
  invocations(): SandboxInvocation[];
  /** The cards an invocation made. */
  cards(flowInvocationId: string): CardView[];
  /** Why an invocation made no card, or null when it made some (or is unknown). */
  noCardReason(flowInvocationId: string): NoCardReason | null;
  /** The bytes a task's upload left in the store (with `keepUploads`, for tests that compare them). */
  upload(taskId: string): Promise<AsyncIterable<Uint8Array>>;
  tasks(): SandboxTask[];
  stats(): SandboxStats;
  /** Waits until every uploaded file has been processed. */
  settle(timeoutMs?: number): Promise<void>;
  /** Invalidates every issued access token, as a server-side revocation would. */
  revokeTokens(): void;
  stop(): Promise<void>;
}

/**
 * The sandbox's private folder (uploads, and what it keeps per row): owned by this process,
 * removed when the sandbox stops or the process exits, and by the next start when the
 * process was killed (files/private-files.ts).
 */
async function privateFolder(
  parent: string | undefined,
): Promise<{ dir: string; drop: () => void }> {
  await sweepOrphans(parent);
  const dir = await makeOwnedTempDir('sandbox', parent);
  await mkdir(join(dir, 'state'), { mode: 0o700 });
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);
  return { dir, drop: () => process.off('exit', onExit) };
}

/** Connections open at once to the API (the store has its own, tighter caps). */
const MAX_CONNECTIONS = 256;

export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const flows = await loadFlows(options.flowsDir ?? defaultFlowsDir());
  const folder = await privateFolder(options.tempDir);
  const remove = async () => {
    folder.drop();
    await removeOwnedTempDir(folder.dir);
  };
  let s3: ObjectStore;
  let ctx: SandboxContext;
  try {
    s3 = await openObjectStore(options.s3 ?? {}, join(folder.dir, 'uploads'));
    ctx = new SandboxContext(options, flows, s3, join(folder.dir, 'state'));
  } catch (error) {
    await remove();
    throw error;
  }
  const processing = new Processing(ctx);
  const server = serve(router(ctx, processing), options);
  const wanted = options.port ?? 0;
  try {
    await listen(server, wanted);
  } catch (error) {
    await s3.stop();
    ctx.close();
    await remove();
    throw listenError(error, wanted);
  }
  const port = (server.address() as AddressInfo).port;
  ctx.baseUrl = `http://127.0.0.1:${port}`;
  ctx.allowedHosts.add(`127.0.0.1:${port}`).add(`localhost:${port}`);
  if (ctx.direct) processing.startPolling();
  return running({ ctx, s3, server, processing, folder: folder.dir, remove });
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<Reply | null>;

/** Routes one request; returns the reply, or null when the response was written already. */
function router(ctx: SandboxContext, processing: Processing): Handler {
  const gateway = createGateway(ctx, processing);
  const options = ctx.options;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (!ctx.allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      await drainBody(req);
      return reply(403, { message: 'This sandbox answers only to its own address (Host header).' });
    }
    const latencyMs = ctx.faults.options.latencyMs ?? 0;
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (req.method === 'POST' && path === '/oauth2/token') {
      await drainBody(req);
      return tokenRoute(ctx, req, url);
    }
    if (path.startsWith('/sandbox/')) {
      await drainBody(req);
      return inspectionRoute(ctx, req, url);
    }
    if (path.startsWith('/analytics-export/')) {
      await drainBody(req);
      const status = await ctx.analytics.download(req, res, url);
      options.log?.(`GET /analytics-export/… ${status}`);
      return null;
    }
    const upload = /^\/upload\/([\w-]+)$/.exec(path);
    if (upload !== null && req.method === 'POST')
      return gateway(req, res, ctx.tasks.get(upload[1] as string));
    const answer = await apiRoute(ctx, req, url);
    if (answer !== null) return answer;
    await drainBody(req);
    return reply(404, { message: 'Not found' });
  };
}

/** The API's HTTP server: each reply written as JSON (or S3's XML), and logged. */
function serve(handle: Handler, options: SandboxOptions): Server {
  const server = createServer((req, res) => {
    handle(req, res)
      .catch((error: unknown) =>
        reply(500, { message: `sandbox error: ${(error as Error).message}` }),
      )
      .then((answer) => {
        if (answer === null || res.headersSent) return;
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        const type = typeof answer.body === 'string' ? 'application/xml' : 'application/json';
        const headers = { ...answer.headers, ...closeUnlessRead(req) };
        res.writeHead(answer.status, text === '' ? headers : { 'Content-Type': type, ...headers });
        res.end(text);
        options.log?.(
          `${req.method ?? ''} ${new URL(req.url ?? '/', 'http://sandbox').pathname} ${answer.status}`,
        );
      })
      .catch(() => res.destroy());
  });
  // Headers promptly; a whole request (an upload through the gateway) within a URL's life.
  server.headersTimeout = 5_000;
  server.requestTimeout = 300_000;
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function listenError(error: unknown, wanted: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES') return error;
  return new AtomicBulkError(
    'USAGE',
    `port ${wanted} is ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; use --port N or --port 0.`,
  );
}

/** The sandbox, listening: its settings for clients, what tests inspect, and `stop`. */
function running(parts: {
  ctx: SandboxContext;
  s3: ObjectStore;
  server: Server;
  processing: Processing;
  folder: string;
  remove: () => Promise<void>;
}): Sandbox {
  const { ctx, s3, server, processing, remove } = parts;
  const baseUrl = ctx.baseUrl;
  let stopping = false;
  const { environmentId, clientId, clientSecret } = ctx;
  return {
    url: baseUrl,
    tokenUrl: `${baseUrl}/oauth2/token`,
    environmentId,
    clientId,
    clientSecret,
    inspectionToken: ctx.inspectionToken,
    s3Endpoint: s3.endpoint,
    folder: parts.folder,
    connection: {
      baseUrl,
      environmentId,
      tokenUrl: `${baseUrl}/oauth2/token`,
      clientId,
      clientSecret,
    },
    env: settingsEnv(ctx),
    invocations: () => ctx.ledger.page(0, ctx.ledger.count),
    cards: (id) => ctx.cards.ofInvocation(id),
    noCardReason: (id) => ctx.ledger.noCardReason(id),
    upload(taskId) {
      const task = ctx.tasks.get(taskId);
      if (task === undefined) return Promise.reject(new Error(`no task ${taskId}`));
      return s3.read(task.key);
    },
    tasks: () => [...ctx.tasks.values()].map(publicTask),
    stats: () => stats(ctx),
    settle: (timeoutMs = 30_000) => processing.settle(timeoutMs),
    revokeTokens() {
      ctx.tokens.clear();
    },
    async stop() {
      if (stopping) return;
      // Unprocessed uploads are abandoned, not waited for.
      stopping = true;
      server.closeAllConnections();
      server.close();
      await processing.stop();
      await s3.stop();
      ctx.close();
      await remove();
    },
  };
}

/** The sandbox's settings as the ATOMIC_* variables a client reads. */
function settingsEnv(ctx: SandboxContext): Record<string, string> {
  return {
    ATOMIC_BASE_URL: ctx.baseUrl,
    ATOMIC_ENVIRONMENT_ID: ctx.environmentId,
    ATOMIC_TOKEN_URL: `${ctx.baseUrl}/oauth2/token`,
    ATOMIC_CLIENT_ID: ctx.clientId,
    ATOMIC_CLIENT_SECRET: ctx.clientSecret,
  };
}
