/**
 * The sandbox's own object store: an HTTP server on 127.0.0.1 that receives exactly what
 * Atomic's upload URLs receive — a presigned POST (multipart form with a SigV4-signed
 * policy) or a presigned PUT — and nothing else. It verifies signatures, expiry, the
 * policy's conditions and content-length-range the way S3 does, answers with S3's XML
 * error codes, and keeps objects in a private temporary directory under names derived
 * from a hash of the key, so no key can reach outside it. It serves no object to anyone:
 * the sandbox reads what arrived straight from disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormError, formBoundary, readForm, type FileSink } from './multipart.js';
import {
  presignPost,
  presignPut,
  SignatureError,
  verifyPost,
  verifyPut,
  type PresignedPost,
  type SigningKeyPair,
} from './sigv4.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';

/** S3's largest single PUT. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** A refused request's remaining body is read and discarded up to this size, then the connection is closed. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

interface StoredObject {
  file: string;
  size: number;
  lastModified: Date;
}

class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export class LocalObjectStore implements ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  private writes = 0;
  lastWriteAt = 0;
  /** Requests refused, by S3 error code (for tests and the sandbox's stats). */
  readonly refused = new Map<string, number>();

  private constructor(
    readonly endpoint: string,
    readonly bucket: string,
    private readonly keys: SigningKeyPair,
    private readonly server: Server,
    private readonly directory: string,
    private readonly allowedHosts: Set<string>,
  ) {}

  static async start(bucket = 'atomic-sandbox'): Promise<LocalObjectStore> {
    const directory = await mkdtemp(join(tmpdir(), 'atomic-bulk-store-'));
    await chmod(directory, 0o700);
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
    server.requestTimeout = 120_000;
    server.headersTimeout = 10_000;
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
      `http://127.0.0.1:${port}`,
      bucket,
      keys,
      server,
      directory,
      hosts,
    );
    return store;
  }

  get activeWrites(): number {
    return this.writes;
  }

  presignPost(key: string, maxBytes: number, expiresSeconds: number): Promise<PresignedPost> {
    return Promise.resolve(
      presignPost(this.keys, this.endpoint, this.bucket, key, maxBytes, expiresSeconds),
    );
  }

  presignPut(key: string, expiresSeconds: number): Promise<string> {
    return Promise.resolve(presignPut(this.keys, this.endpoint, this.bucket, key, expiresSeconds));
  }

  bucketUrl(): string {
    return `${this.endpoint}/${this.bucket}`;
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
    const o = this.objects.get(key);
    if (o === undefined) return;
    this.objects.delete(key);
    await unlink(o.file).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.directory, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const writing = req.method === 'POST' || req.method === 'PUT';
    if (writing) {
      this.writes++;
      this.lastWriteAt = Date.now();
      res.once('close', () => {
        this.writes--;
        this.lastWriteAt = Date.now();
      });
    }
    try {
      const { status, headers } = await this.route(req);
      res.writeHead(status, headers);
      res.end();
    } catch (error) {
      const failure =
        error instanceof S3Failure || error instanceof SignatureError || error instanceof FormError
          ? new S3Failure(
              error instanceof FormError ? 400 : error.status,
              error.code,
              error.message,
            )
          : new S3Failure(500, 'InternalError', 'We encountered an internal error.');
      this.refused.set(failure.code, (this.refused.get(failure.code) ?? 0) + 1);
      await this.drain(req);
      if (res.headersSent || res.destroyed) return;
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(failure.code)}</Code><Message>${xml(failure.message)}</Message></Error>`;
      res.writeHead(failure.status, {
        'Content-Type': 'application/xml',
        'Content-Length': String(Buffer.byteLength(body)),
        ...(req.readableEnded ? {} : { Connection: 'close' }),
      });
      res.end(body);
    }
  }

  /** Reads and discards what is left of a refused request, up to a limit. */
  private async drain(req: IncomingMessage): Promise<void> {
    if (req.readableEnded || req.destroyed) return;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (!(declared <= DRAIN_LIMIT_BYTES)) return;
    let seen = 0;
    try {
      for await (const chunk of req) {
        seen += (chunk as Buffer).length;
        if (seen > DRAIN_LIMIT_BYTES) break;
      }
    } catch {
      // The client went away.
    }
  }

  private async route(
    req: IncomingMessage,
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
    if (req.method === 'POST' && key === '') return this.receivePost(req);
    if (req.method === 'PUT' && key !== '') return this.receivePut(req, key, rawPath, search, host);
    throw new S3Failure(
      405,
      'MethodNotAllowed',
      'This store only receives presigned uploads (POST to the bucket, PUT to a key).',
    );
  }

  private async receivePost(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    const boundary = formBoundary(req.headers['content-type']);
    let upload: Upload | null = null;
    let key = '';
    let minBytes = 0;
    try {
      const { fileBytes } = await readForm(req, boundary, async (fields) => {
        const policy = verifyPost(this.keys, this.bucket, fields);
        key = fields.get('key') ?? '';
        if (key === '')
          throw new S3Failure(
            400,
            'InvalidArgument',
            'Bucket POST must contain a field named key.',
          );
        minBytes = policy.minBytes;
        upload = await Upload.begin(this.directory, policy.maxBytes);
        return upload;
      });
      const done = upload as Upload | null;
      if (done === null) throw new S3Failure(400, 'InvalidArgument', 'POST requires a file.');
      if (fileBytes < minBytes)
        throw new S3Failure(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size.',
        );
      return await this.keep(key, done);
    } finally {
      await (upload as Upload | null)?.abandon();
    }
  }

  private async receivePut(
    req: IncomingMessage,
    key: string,
    rawPath: string,
    search: URLSearchParams,
    host: string,
  ): Promise<{ status: number; headers: Record<string, string> }> {
    verifyPut(this.keys, rawPath, search, host);
    const length = req.headers['content-length'];
    if (length === undefined || !/^\d+$/.test(length))
      throw new S3Failure(
        411,
        'MissingContentLength',
        'You must provide the Content-Length HTTP header.',
      );
    const declared = Number(length);
    if (declared > MAX_OBJECT_BYTES)
      throw new S3Failure(
        400,
        'EntityTooLarge',
        'Your proposed upload exceeds the maximum allowed size.',
      );
    const upload = await Upload.begin(this.directory, MAX_OBJECT_BYTES);
    try {
      for await (const chunk of req) await upload.write(chunk as Buffer);
      if (upload.bytes !== declared)
        throw new S3Failure(
          400,
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header.',
        );
      return await this.keep(key, upload);
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

/** One object being received into a private temporary file. */
class Upload implements FileSink {
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
    if (this.bytes > this.maxBytes)
      throw new S3Failure(
        400,
        'EntityTooLarge',
        'Your proposed upload exceeds the maximum allowed size',
      );
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
