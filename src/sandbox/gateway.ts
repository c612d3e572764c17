/**
 * The upload gateway in front of the object store (decisions.md, "An upload gateway in
 * front of S3"): checks the URL's expiry, injects upload faults, streams the body to the
 * store, which verifies the signed policy, and enforces the size cap even on stores that
 * do not; then queues the file for processing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxContext, Task } from './context.js';
import { drainBody, forward, reply, s3Xml, type Reply } from './http.js';
import { BOUND_KEY_HEADER } from './store-types.js';
import type { Processing } from './processing.js';

export function createGateway(ctx: SandboxContext, processing: Processing) {
  return async function gateway(
    req: IncomingMessage,
    _res: ServerResponse,
    task: Task | undefined,
  ): Promise<Reply | null> {
    if (task === undefined) {
      await drainBody(req);
      return reply(404, s3Xml('NoSuchUpload', 'No such upload.'));
    }
    task.uploadAttempts++;
    if (task.status !== 'issued') {
      await drainBody(req);
      return reply(403, s3Xml('AccessDenied', 'This upload URL was already used.'));
    }
    task.status = 'uploading';
    const ended = processing.uploadStarted();
    try {
      const refused = await faultOrExpiry(ctx, req, task);
      if (refused !== undefined) return refused;
      return await store(ctx, processing, req, task);
    } catch (error) {
      // The client went away mid-upload, or the store failed: the URL may be tried again.
      task.status = 'issued';
      return reply(502, s3Xml('InternalError', `upload gateway: ${(error as Error).message}`));
    } finally {
      ended();
    }
  };
}

/**
 * A slow upload, an expired URL, a dropped connection or a 503, as the faults say;
 * undefined when the upload may go ahead. The URL stays usable after each.
 */
async function faultOrExpiry(
  ctx: SandboxContext,
  req: IncomingMessage,
  task: Task,
): Promise<Reply | null | undefined> {
  const { faults } = ctx;
  if (faults.next('upload-slow'))
    await new Promise((r) => setTimeout(r, faults.options.slowUploadMs ?? 3000));
  if (Date.now() > task.expiresAtMs) {
    task.status = 'issued';
    await drainBody(req);
    return reply(403, s3Xml('AccessDenied', 'Invalid according to Policy: Policy expired.'));
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
    ctx.options.log?.(`POST /upload/${task.taskId} reset`);
    return null;
  }
  if (faults.next('upload-5xx')) {
    task.status = 'issued';
    await drainBody(req);
    return reply(503, s3Xml('SlowDown', 'Please reduce your request rate.'));
  }
  return undefined;
}

/** Streams the body to the store, checks what landed, and queues it for processing. */
async function store(
  ctx: SandboxContext,
  processing: Processing,
  req: IncomingMessage,
  task: Task,
): Promise<Reply> {
  const { s3, maxUploadBytes } = ctx;
  const startedAt = Date.now();
  const upstream = await forward(req, task.s3Url, processing.upstreams, {
    [BOUND_KEY_HEADER]: encodeURIComponent(task.key),
  });
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
  // Another task's form posted to this task's URL: its file is not this task's upload.
  // (The sandbox's own store refuses it before; an S3 endpoint ignores the header.)
  if (head === null || (head.lastModified?.getTime() ?? startedAt) < startedAt - 1000) {
    task.status = 'issued';
    return reply(403, s3Xml('AccessDenied', 'This upload URL belongs to another upload.'));
  }
  if (head.size > maxUploadBytes) {
    await s3.delete(task.key);
    task.status = 'rejected';
    task.reason = `the file is ${head.size} bytes, over the ${maxUploadBytes}-byte limit`;
    return reply(
      400,
      s3Xml('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'),
    );
  }
  task.bytes = head.size;
  task.uploadedAt = new Date().toISOString();
  processing.enqueue(task);
  return reply(204, '');
}
