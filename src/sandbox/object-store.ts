/**
 * Where the sandbox keeps uploaded files: its own store (the default, see local-store.ts)
 * or any S3-compatible endpoint (s3-backend.ts; radosgw in the contract tier). Either way
 * the sandbox hands out presigned POSTs and PUTs for it and reads what arrived.
 */
import type { PresignedPost } from './sigv4.js';

export type { PresignedPost };

export interface ObjectInfo {
  size: number;
  lastModified: Date | null;
}

export interface ObjectStore {
  /** The store's origin, e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly bucket: string;
  /** Uploads being received right now (0 when the store cannot tell). */
  readonly activeWrites: number;
  /** When an upload last began or ended (0 when the store cannot tell). */
  readonly lastWriteAt: number;
  /** A presigned POST for `key`: at most `maxBytes`, valid for `expiresSeconds`. */
  presignPost(key: string, maxBytes: number, expiresSeconds: number): Promise<PresignedPost>;
  /** A presigned PUT URL for `key`, valid for `expiresSeconds`. */
  presignPut(key: string, expiresSeconds: number): Promise<string>;
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

/** The sandbox's own store, or the S3-compatible endpoint the options name. */
export async function openObjectStore(options: S3BackendOptions = {}): Promise<ObjectStore> {
  if (options.endpoint === undefined) {
    const { LocalObjectStore } = await import('./local-store.js');
    return LocalObjectStore.start(options.bucket);
  }
  const { S3Backend } = await import('./s3-backend.js');
  return S3Backend.start(options);
}
