/**
 * Where the sandbox keeps uploaded files: its own store (the default, see local-store.ts)
 * or any S3-compatible endpoint (s3-backend.ts; radosgw in the contract tier). Either way
 * the sandbox hands out presigned POSTs and PUTs for it and reads what arrived. Each store
 * is loaded only when used (the S3 one pulls in the AWS SDK).
 */
import type { ObjectStore, S3BackendOptions } from './store-types.js';

export type { ObjectInfo, ObjectStore, PresignedPost, S3BackendOptions } from './store-types.js';

/** The sandbox's own store (files under `directory`), or the S3-compatible endpoint named. */
export async function openObjectStore(
  options: S3BackendOptions,
  directory: string,
): Promise<ObjectStore> {
  if (options.endpoint === undefined) {
    const { LocalObjectStore } = await import('./local-store.js');
    return LocalObjectStore.start(directory, options.bucket);
  }
  const { S3Backend } = await import('./s3-backend.js');
  return S3Backend.start(options);
}
