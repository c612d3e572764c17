/** Small HTTP pieces the sandbox's servers share: replies, S3 errors, bodies, tokens. */
import { timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';

export interface Reply {
  status: number;
  /** JSON-serialisable value, or a string sent as XML (S3 style); '' for no body. */
  body: unknown;
  headers: Record<string, string>;
}

export function reply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body, headers };
}

const xmlText = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An S3-style XML error body. */
export function s3Xml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlText(code)}</Code><Message>${xmlText(message)}</Message></Error>`;
}

/** The bearer token of a request, if it has one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
}

/** Compares two secrets in constant time. */
export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A body being discarded is read at most this far… */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** …and for at most this long; then the connection is closed. */
export const DRAIN_MAX_MS = 2_000;

/**
 * Reads and discards the body, up to DRAIN_MAX_BYTES and for at most DRAIN_MAX_MS; a body
 * declared larger is not read at all. Returns when it ended, the client went away, or the
 * limit was reached: the caller then answers with `Connection: close` (see
 * `closeUnlessRead`), so nobody holds a connection open by trickling a body at a request
 * that is refused anyway.
 */
export async function drainBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  if (Number(req.headers['content-length'] ?? 0) > DRAIN_MAX_BYTES) return;
  await new Promise<void>((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    // A request unpiped from a parser that gave up is paused, not flowing: without this the
    // drain would wait its whole DRAIN_MAX_MS for an end that never comes.
    req.resume();
  });
}

/** `Connection: close` when the request's body was not read to its end. */
export function closeUnlessRead(req: IncomingMessage): Record<string, string> {
  return req.readableEnded ? {} : { Connection: 'close' };
}

/** Streams the incoming multipart body to the bucket URL; returns the store's answer. */
export function forward(
  req: IncomingMessage,
  bucketUrl: string,
  active: Set<ClientRequest>,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  // The client may have gone while the request waited (latency, a slow-upload fault).
  // Node destroys the request when its socket closes, even one received complete, and a
  // destroyed stream never ends: piping it would wait forever.
  if (req.destroyed) return Promise.reject(new Error('the client disconnected before the upload'));
  const target = new URL(bucketUrl);
  const headers: Record<string, string> = { ...extraHeaders, host: target.host };
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
