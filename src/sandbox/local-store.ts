/**
 * The sandbox's own object store: an HTTP server on 127.0.0.1 that receives exactly what
 * Atomic's upload URLs receive — a presigned POST (multipart form with a SigV4-signed
 * policy, read with busboy) or a presigned PUT — and nothing else. It verifies signatures,
 * expiry, the policy's conditions and content-length-range the way S3 does, answers with
 * S3's XML error codes, and keeps objects in the sandbox's private folder under names
 * derived from a hash of the key, so no key can reach outside it. It serves no object to
 * anyone: the sandbox reads what arrived straight from disk.
 *
 * Abuse from the same machine is bounded (decisions.md, "The sandbox under abuse"): a
 * request must prove its signature within AUTH_DEADLINE_MS of arriving, at most
 * MAX_UNAUTHENTICATED such requests may be open at once, a refused request's body is read
 * for at most two seconds (http.ts), and only authenticated uploads count as writes (the
 * sandbox's processing waits for writes to end, so nobody without a URL can stall it).
 * A presigned PUT is held to the size limit it was issued with, while it streams.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { closeUnlessRead, drainBody } from './http.js';
import { readPostForm } from './post-form.js';
import { verifyPost } from './post-policy.js';
import { SignatureError, verifyPut, type SigningKeyPair } from './sigv4.js';
import {
  BOUND_KEY_HEADER,
  S3Failure,
  SigningStore,
  type ObjectInfo,
  type ObjectStore,
} from './store-types.js';

/** S3's largest single PUT. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** A request must have shown a valid signature this soon after it arrived. */
export const AUTH_DEADLINE_MS = 5_000;
/** Requests not yet authenticated, open at once; more are answered 503 at once. */
export const MAX_UNAUTHENTICATED = 16;
/** Authenticated uploads received at once; more are answered 503 SlowDown. */
export const MAX_UPLOADS = 32;

interface StoredObject {
  file: string;
  size: number;
  lastModified: Date;
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One request's standing: not yet authenticated, then an upload that counts as a write. */
export interface RequestGate {
  /** The request showed a valid signature: it counts as a write from now on. */
  authenticated(): void;
}

export class LocalObjectStore extends SigningStore implements ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  /** The size limit each presigned PUT was issued with. */
  private readonly putLimits = new Map<string, number>();
  private writes = 0;
  private unauthenticated = 0;
  lastWriteAt = 0;
  /** Requests refused, by S3 error code (for tests and the sandbox's stats). */
  readonly refused = new Map<string, number>();

  private readonly server: Server;
  private readonly directory: string;
  private readonly allowedHosts: Set<string>;

  private constructor(
    place: { endpoint: string; bucket: string; keys: SigningKeyPair },
    serving: { server: Server; directory: string; allowedHosts: Set<string> },
  ) {
    super(place.endpoint, place.bucket, place.keys);
    this.server = serving.server;
    this.directory = serving.directory;
    this.allowedHosts = serving.allowedHosts;
  }

  /** Starts the store, keeping objects in `directory` (made private here). */
  static async start(directory: string, bucket = 'atomic-sandbox'): Promise<LocalObjectStore> {
    await mkdir(directory, { mode: 0o700 });
    const keys: SigningKeyPair = {
      accessKeyId: `SANDBOX${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
      region: 'us-east-1',
    };
    let store: LocalObjectStore | null = null;
    const server = createServer((req, res) => {
      if (store === null) {
        res.destroy();
        return;
      }
      void store.handle(req, res);
    });
    // A presigned upload may take the URL's whole lifetime; its headers may not.
    server.requestTimeout = 300_000;
    server.headersTimeout = AUTH_DEADLINE_MS;
    server.maxConnections = 256;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    store = new LocalObjectStore(
      { endpoint: `http://127.0.0.1:${port}`, bucket, keys },
      { server, directory, allowedHosts: hosts },
    );
    return store;
  }

  get activeWrites(): number {
    return this.writes;
  }

  protected override limitPut(key: string, maxBytes: number): void {
    this.putLimits.set(key, maxBytes);
  }

  head(key: string): Promise<ObjectInfo | null> {
    const o = this.objects.get(key);
    return Promise.resolve(o === undefined ? null : { size: o.size, lastModified: o.lastModified });
  }

  read(key: string): Promise<AsyncIterable<Uint8Array>> {
    const o = this.objects.get(key);
    if (o === undefined) return Promise.reject(new Error('no such object'));
    return Promise.resolve(createReadStream(o.file));
  }

  async delete(key: string): Promise<void> {
    this.putLimits.delete(key);
    const o = this.objects.get(key);
    if (o === undefined) return;
    this.objects.delete(key);
    await unlink(o.file).catch(() => undefined);
  }

  /** Closes the server; the sandbox removes the folder. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const gate = this.admit(req, res);
    try {
      if (gate === null)
        throw new S3Failure(503, 'SlowDown', 'Too many unauthenticated requests; try later.');
      const deadline = setTimeout(() => {
        if (gate.pending)
          req.destroy(new S3Failure(408, 'RequestTimeout', 'No valid signature in time.'));
      }, AUTH_DEADLINE_MS);
      res.once('close', () => clearTimeout(deadline));
      const { status, headers } = await this.route(req, gate);
      res.writeHead(status, headers);
      res.end();
    } catch (error) {
      await this.refuse(req, res, error);
    }
  }

  /** Counts a request as unauthenticated until it proves otherwise; null when too many are. */
  private admit(
    req: IncomingMessage,
    res: ServerResponse,
  ): (RequestGate & { pending: boolean }) | null {
    if (this.unauthenticated >= MAX_UNAUTHENTICATED) return null;
    this.unauthenticated++;
    const gate = {
      pending: true,
      writing: false,
      authenticated: () => {
        if (!gate.pending) return;
        gate.pending = false;
        this.unauthenticated--;
        if (this.writes >= MAX_UPLOADS)
          throw new S3Failure(503, 'SlowDown', 'Too many uploads at once; try later.');
        if (req.method !== 'POST' && req.method !== 'PUT') return;
        gate.writing = true;
        this.writes++;
        this.lastWriteAt = Date.now();
      },
    };
    res.once('close', () => {
      if (gate.pending) this.unauthenticated--;
      gate.pending = false;
      if (!gate.writing) return;
      this.writes--;
      this.lastWriteAt = Date.now();
    });
    return gate;
  }

  private async refuse(req: IncomingMessage, res: ServerResponse, error: unknown): Promise<void> {
    const failure =
      error instanceof S3Failure || error instanceof SignatureError
        ? new S3Failure(error.status, error.code, error.message)
        : new S3Failure(500, 'InternalError', 'We encountered an internal error.');
    this.refused.set(failure.code, (this.refused.get(failure.code) ?? 0) + 1);
    if (failure.status !== 503 && failure.status !== 408) await drainBody(req);
    if (res.headersSent || res.destroyed) return;
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(failure.code)}</Code><Message>${xml(failure.message)}</Message></Error>`;
    res.writeHead(failure.status, {
      'Content-Type': 'application/xml',
      'Content-Length': String(Buffer.byteLength(body)),
      ...closeUnlessRead(req),
    });
    res.end(body);
  }

  private async route(
    req: IncomingMessage,
    gate: RequestGate,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    const host = req.headers.host ?? '';
    if (!this.allowedHosts.has(host.toLowerCase()))
      throw new S3Failure(
        403,
        'AccessDenied',
        'This store answers only to its own address (Host header).',
      );
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const search = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const bucketPrefix = `/${this.bucket}`;
    if (rawPath !== bucketPrefix && !rawPath.startsWith(`${bucketPrefix}/`))
      throw new S3Failure(404, 'NoSuchBucket', 'The specified bucket does not exist.');
    let key: string;
    try {
      key = decodeURIComponent(rawPath.slice(bucketPrefix.length + 1));
    } catch {
      throw new S3Failure(400, 'InvalidURI', 'Couldn’t parse the specified URI.');
    }
    if (req.method === 'POST' && key === '') return this.receivePost(req, gate);
    if (req.method === 'PUT' && key !== '')
      return this.receivePut(req, { key, rawPath, search, host }, gate);
    throw new S3Failure(
      405,
      'MethodNotAllowed',
      'This store only receives presigned uploads (POST to the bucket, PUT to a key).',
    );
  }

  private async receivePost(
    req: IncomingMessage,
    gate: RequestGate,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    let upload: Upload | null = null;
    // The form can fail (a second file, a field too large) while its file's temporary
    // file is still being opened: whatever opens after that is removed at once.
    let ended = false;
    try {
      const form = await readPostForm(req, async (fields) => {
        const policy = await verifyPost(this.keys, this.bucket, fields);
        const bound = req.headers[BOUND_KEY_HEADER];
        if (typeof bound === 'string' && boundKey(bound) !== fields.get('key'))
          throw new S3Failure(403, 'AccessDenied', 'This upload URL belongs to another upload.');
        gate.authenticated();
        const begun = await Upload.begin(this.directory, policy.maxBytes);
        if (ended) {
          await begun.abandon();
          throw new S3Failure(400, 'MalformedPOSTRequest', 'The form failed before its file.');
        }
        upload = begun;
        return { sink: begun, minBytes: policy.minBytes };
      });
      return await this.keep(form.key, upload as unknown as Upload);
    } finally {
      ended = true;
      await (upload as Upload | null)?.abandon();
    }
  }

  private async receivePut(
    req: IncomingMessage,
    at: { key: string; rawPath: string; search: URLSearchParams; host: string },
    gate: RequestGate,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    await verifyPut(this.keys, at);
    gate.authenticated();
    const length = req.headers['content-length'];
    if (length === undefined || !/^\d+$/.test(length))
      throw new S3Failure(
        411,
        'MissingContentLength',
        'You must provide the Content-Length HTTP header.',
      );
    const declared = Number(length);
    const limit = Math.min(MAX_OBJECT_BYTES, this.putLimits.get(at.key) ?? MAX_OBJECT_BYTES);
    if (declared > limit) throw tooLarge();
    const upload = await Upload.begin(this.directory, limit);
    try {
      for await (const chunk of req) await upload.write(chunk as Buffer);
      if (upload.bytes !== declared)
        throw new S3Failure(
          400,
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header.',
        );
      return await this.keep(at.key, upload);
    } finally {
      await upload.abandon();
    }
  }

  /** Makes a finished upload the object at `key`, all at once. */
  private async keep(
    key: string,
    upload: Upload,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    const file = join(this.directory, createHash('sha256').update(key).digest('hex'));
    const etag = await upload.finish(file);
    this.objects.set(key, { file, size: upload.bytes, lastModified: new Date() });
    return { status: 204, headers: { ETag: `"${etag}"` } };
  }
}

/** The key the gateway bound a request to, or null when the header is not one it wrote. */
function boundKey(header: string): string | null {
  try {
    return decodeURIComponent(header);
  } catch {
    return null;
  }
}

const tooLarge = () =>
  new S3Failure(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');

/** One object being received into a private temporary file. */
class Upload {
  bytes = 0;
  private readonly md5 = createHash('md5');
  private finished = false;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly maxBytes: number,
  ) {}

  static async begin(directory: string, maxBytes: number): Promise<Upload> {
    const path = join(directory, `.upload-${randomBytes(12).toString('hex')}`);
    // 'wx': created here, never opened through something already at that path.
    return new Upload(path, await open(path, 'wx', 0o600), maxBytes);
  }

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) throw tooLarge();
    this.md5.update(chunk);
    await this.handle.write(chunk);
  }

  async finish(target: string): Promise<string> {
    await this.handle.close();
    await rename(this.path, target);
    this.finished = true;
    return this.md5.digest('hex');
  }

  /** Removes the temporary file unless the upload was kept. */
  async abandon(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
