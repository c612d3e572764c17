/**
 * What the sandbox needs of the place uploaded files land (its own store, local-store.ts,
 * or any S3-compatible endpoint, s3-backend.ts), and the presigning both share. Neither
 * store imports the other or the factory (object-store.ts).
 */
import { presignPost } from './post-policy.js';
import { presignPut, type PresignedPost, type SigningKeyPair, type SigningPlace } from './sigv4.js';

export type { PresignedPost };

/**
 * Set by the sandbox's gateway on what it forwards: the only key the request may write.
 * It can only narrow what a signed policy allows, so nobody gains by sending it.
 */
export const BOUND_KEY_HEADER = 'x-sandbox-upload-key';

/** Why a store refuses a request, as S3 says it: status, error code, message. */
export class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ObjectInfo {
  size: number;
  lastModified: Date | null;
}

export interface ObjectStore {
  /** The store's origin, e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly bucket: string;
  /** Authenticated uploads being received right now (0 when the store cannot tell). */
  readonly activeWrites: number;
  /** When an authenticated upload last began or ended (0 when the store cannot tell). */
  readonly lastWriteAt: number;
  /** A presigned POST for `key`: at most `maxBytes`, valid for `expiresSeconds`. */
  presignPost(key: string, maxBytes: number, expiresSeconds: number): Promise<PresignedPost>;
  /**
   * A presigned PUT URL for `key`, valid for `expiresSeconds`. A presigned PUT cannot carry
   * a size limit; a store that can enforce `maxBytes` while receiving does (local-store.ts).
   */
  presignPut(key: string, maxBytes: number, expiresSeconds: number): Promise<string>;
  /** The bucket's URL for path-style requests. */
  bucketUrl(): string;
  head(key: string): Promise<ObjectInfo | null>;
  read(key: string): Promise<AsyncIterable<Uint8Array>>;
  delete(key: string): Promise<void>;
  stop(): Promise<void>;
}

export interface S3BackendOptions {
  /** An S3-compatible endpoint to use instead of the sandbox's own store. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  /** Bucket for uploads; created when missing. Default "atomic-sandbox". */
  bucket?: string;
}

/** Presigning for one bucket with one key pair (sigv4.ts), shared by both stores. */
export abstract class SigningStore {
  constructor(
    readonly endpoint: string,
    readonly bucket: string,
    protected readonly keys: SigningKeyPair,
  ) {}

  presignPost(key: string, maxBytes: number, expiresSeconds: number): Promise<PresignedPost> {
    return presignPost(this.place(), key, { maxBytes, expiresSeconds });
  }

  presignPut(key: string, maxBytes: number, expiresSeconds: number): Promise<string> {
    this.limitPut(key, maxBytes);
    return presignPut(this.place(), key, expiresSeconds);
  }

  /** Notes the size limit of a presigned PUT, for stores that enforce it. */
  protected limitPut(_key: string, _maxBytes: number): void {}

  private place(): SigningPlace {
    return { keys: this.keys, endpoint: this.endpoint, bucket: this.bucket };
  }

  bucketUrl(): string {
    return `${this.endpoint}/${this.bucket}`;
  }
}
