/**
 * An S3-compatible endpoint as the sandbox's object store (radosgw in the contract tier):
 * presigned POSTs and PUTs are signed by the sandbox's own SigV4 code (sigv4.ts), so the
 * contract tier proves that code against a real S3; reads, heads and deletes use the SDK.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { SigningKeyPair } from './sigv4.js';
import {
  SigningStore,
  type ObjectInfo,
  type ObjectStore,
  type S3BackendOptions,
} from './store-types.js';

export class S3Backend extends SigningStore implements ObjectStore {
  readonly activeWrites = 0;
  readonly lastWriteAt = 0;

  private constructor(
    endpoint: string,
    bucket: string,
    readonly client: S3Client,
    keys: SigningKeyPair,
  ) {
    super(endpoint, bucket, keys);
  }

  static async start(options: S3BackendOptions): Promise<S3Backend> {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const endpoint = (options.endpoint ?? '').replace(/\/+$/, '');
    const keys: SigningKeyPair = {
      accessKeyId: options.accessKeyId ?? process.env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: options.secretAccessKey ?? process.env.AWS_SECRET_ACCESS_KEY ?? '',
      region: options.region ?? 'us-east-1',
    };
    const client = new S3Client({
      endpoint,
      region: keys.region,
      forcePathStyle: true,
      credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const backend = new S3Backend(endpoint, options.bucket ?? 'atomic-sandbox', client, keys);
    await backend.ensureBucket();
    return backend;
  }

  private async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
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

  stop(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
