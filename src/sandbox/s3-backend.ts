/**
 * The sandbox's object store: s3rver started in-process on 127.0.0.1 (no setup), or any
 * S3-compatible endpoint given by option (radosgw in the contract tier). Presigned POSTs
 * carry a policy with content-length-range and an expiry; presigned PUTs are made
 * without the checksum parameter the SDK adds by default (which AWS would reject).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import S3rver from 's3rver';

export interface S3BackendOptions {
  /** An S3-compatible endpoint to use instead of starting s3rver. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  /** Bucket for uploads; created when missing. Default "atomic-sandbox". */
  bucket?: string;
}

const noop = (): void => undefined;
const QUIET_LOGGER = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  close: noop,
  exceptions: { unhandle: noop },
};

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

export class S3Backend {
  private writes = 0;
  /** When the in-process S3 server last started or finished receiving an upload. */
  lastWriteAt = 0;

  private constructor(
    readonly endpoint: string,
    readonly bucket: string,
    readonly client: S3Client,
    private readonly server: S3rver | null,
    private readonly directory: string | null,
  ) {}

  static async start(options: S3BackendOptions = {}): Promise<S3Backend> {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const bucket = options.bucket ?? 'atomic-sandbox';
    let endpoint = options.endpoint;
    let server: S3rver | null = null;
    let directory: string | null = null;
    if (endpoint === undefined) {
      directory = await mkdtemp(join(tmpdir(), 'atomic-bulk-s3rver-'));
      server = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory,
        configureBuckets: [{ name: bucket }],
      });
      // s3rver closes its logger on close() and then warns on stderr if a request still
      // finishing writes a log line; a logger that does nothing never warns.
      server.logger = QUIET_LOGGER;
      server.context.logger = QUIET_LOGGER;
      const { port } = await server.run();
      endpoint = `http://127.0.0.1:${port}`;
    }
    const client = new S3Client({
      endpoint,
      region: options.region ?? 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId:
          options.accessKeyId ?? (server ? 'S3RVER' : (process.env.AWS_ACCESS_KEY_ID ?? '')),
        secretAccessKey:
          options.secretAccessKey ??
          (server ? 'S3RVER' : (process.env.AWS_SECRET_ACCESS_KEY ?? '')),
      },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const backend = new S3Backend(endpoint, bucket, client, server, directory);
    if (server === null) await backend.ensureBucket();
    else backend.countWrites(server);
    return backend;
  }

  /** Uploads the in-process S3 server is receiving right now (0 for an external store). */
  get activeWrites(): number {
    return this.writes;
  }

  private countWrites(server: S3rver): void {
    server.httpServer?.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'POST' && req.method !== 'PUT') return;
      this.writes++;
      this.lastWriteAt = Date.now();
      res.once('close', () => {
        this.writes--;
        this.lastWriteAt = Date.now();
      });
    });
  }

  private async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
  }

  /** A presigned POST for `key`: at most `maxBytes`, valid for `expiresSeconds`. */
  async presignPost(key: string, maxBytes: number, expiresSeconds: number): Promise<PresignedPost> {
    return createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: key,
      Conditions: [['content-length-range', 0, maxBytes]],
      Expires: expiresSeconds,
    });
  }

  /** A presigned PUT URL for `key`, valid for `expiresSeconds`. */
  async presignPut(key: string, expiresSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresSeconds,
    });
  }

  /** The bucket's URL for path-style requests. */
  bucketUrl(): string {
    return `${this.endpoint}/${this.bucket}`;
  }

  async head(key: string): Promise<{ size: number; lastModified: Date | null } | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: r.ContentLength ?? 0, lastModified: r.LastModified ?? null };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      if (status === 404 || (error as { name?: string }).name === 'NotFound') return null;
      throw error;
    }
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return r.Body as AsyncIterable<Uint8Array>;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async stop(): Promise<void> {
    this.client.destroy();
    if (this.server !== null) await this.server.close();
    if (this.directory !== null) await rm(this.directory, { recursive: true, force: true });
  }
}
