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

/** Reads and discards the body; returns when it ended or the client went away. */
export async function drainBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
  });
}

/** Streams the incoming multipart body to the bucket URL; returns the store's answer. */
export function forward(
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
