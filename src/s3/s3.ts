/**
 * S3 hand-off (SPEC 4): read an input object as a stream and write report files to a
 * prefix. The AWS SDK costs ~150 ms to load, so this module is imported lazily, only
 * when an s3:// location is used. The standard credential chain and region settings
 * apply; AWS_ENDPOINT_URL_S3 or --s3-endpoint point it at any S3-compatible store, with
 * path-style addressing.
 */
import { requireSecureUrl } from '../model/secure-url.js';
import { open, type FileHandle } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { AtomicBulkError } from '../model/errors.js';

export interface S3Location {
  bucket: string;
  key: string;
}

export interface S3Options {
  /** Endpoint of an S3-compatible store; defaults to AWS_ENDPOINT_URL_S3, else AWS. */
  endpoint?: string;
}

/** Splits `s3://bucket/key` into its parts. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (match === null || match[1] === undefined) {
    throw new AtomicBulkError('USAGE', `"${uri}" is not an S3 location; write s3://bucket/key.`);
  }
  return { bucket: match[1], key: match[2] ?? '' };
}

const clients = new Map<string, S3Client>();

/** An S3 client for the endpoint, created once per endpoint. */
export async function s3Client(options: S3Options = {}): Promise<S3Client> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint =
    options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  // Campaign rows and reports travel to this endpoint: https, or http only on loopback.
  if (endpoint !== undefined)
    requireSecureUrl(
      'The S3 endpoint (--s3-endpoint or AWS_ENDPOINT_URL_S3)',
      endpoint,
      'Over http campaign rows and reports would cross the network in clear text.',
    );
  const cacheKey = endpoint ?? '';
  const cached = clients.get(cacheKey);
  if (cached !== undefined) return cached;
  const { S3Client: Client } = await import('@aws-sdk/client-s3');
  const client = new Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint !== undefined ? { endpoint, forcePathStyle: true } : {}),
    // Checksums the SDK adds by default break presigned URLs and some S3-compatible stores.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  clients.set(cacheKey, client);
  return client;
}

export interface S3Object {
  size: number | null;
  /** The object's bytes as a stream; can be consumed once. */
  body: () => AsyncIterable<Uint8Array>;
}

/** Opens an object for streaming. */
export async function openS3Object(uri: string, options: S3Options = {}): Promise<S3Object> {
  const { bucket, key } = parseS3Uri(uri);
  const client = await s3Client(options);
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = response.Body as AsyncIterable<Uint8Array> | undefined;
    if (body === undefined) throw new AtomicBulkError('INPUT', `S3 object ${uri} has no body.`);
    return { size: response.ContentLength ?? null, body: () => body };
  } catch (error) {
    throw s3Error('INPUT', `Input ${uri}`, error);
  }
}

/** Writes one object. */
export async function putS3Object(
  uri: string,
  body: Buffer | string,
  contentType: string,
  options: S3Options = {},
): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const client = await s3Client(options);
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
    );
  } catch (error) {
    throw s3Error('OUTPUT', `Report file ${uri}`, error);
  }
}

/** Files up to this size go up in one PutObject; larger ones in parts of this size. */
export const S3_PART_BYTES = 16 * 1024 * 1024;

/**
 * Uploads a local file without holding more than one part in memory: one PutObject for a
 * small file, a multipart upload for a large one (report files such as invocations.csv
 * grow with the input). A failed multipart upload is aborted so no parts linger.
 */
export async function putS3File(
  uri: string,
  path: string,
  contentType: string,
  options: S3Options & { partBytes?: number } = {},
): Promise<void> {
  const partBytes = Math.max(5 * 1024 * 1024, options.partBytes ?? S3_PART_BYTES);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size <= partBytes) {
      const body = Buffer.allocUnsafe(size);
      await readFully(file, body, 0);
      await putS3Object(uri, body, contentType, options);
      return;
    }
    const { bucket, key } = parseS3Uri(uri);
    const client = await s3Client(options);
    const sdk = await import('@aws-sdk/client-s3');
    let uploadId: string | undefined;
    try {
      const created = await client.send(
        new sdk.CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: contentType,
        }),
      );
      uploadId = created.UploadId;
      const parts: { ETag: string | undefined; PartNumber: number }[] = [];
      const buffer = Buffer.allocUnsafe(partBytes);
      for (let offset = 0, number = 1; offset < size; offset += partBytes, number++) {
        const length = Math.min(partBytes, size - offset);
        await readFully(file, buffer.subarray(0, length), offset);
        const part = await client.send(
          new sdk.UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: number,
            Body: buffer.subarray(0, length),
            ContentLength: length,
          }),
        );
        parts.push({ ETag: part.ETag, PartNumber: number });
      }
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      if (uploadId !== undefined) {
        await client
          .send(
            new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
          )
          .catch(() => undefined);
      }
      throw s3Error('OUTPUT', `Report file ${uri}`, error);
    }
  } finally {
    await file.close();
  }
}

async function readFully(file: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0)
      throw new AtomicBulkError('OUTPUT', 'A report file shrank while it was being uploaded.');
    done += bytesRead;
  }
}

function s3Error(code: 'INPUT' | 'OUTPUT', what: string, error: unknown): AtomicBulkError {
  if (error instanceof AtomicBulkError) return error;
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  const why =
    name === 'NoSuchKey' || name === 'NotFound'
      ? 'does not exist'
      : name === 'NoSuchBucket'
        ? 'is in a bucket that does not exist'
        : name === 'AccessDenied' || status === 403
          ? 'cannot be accessed with the current AWS credentials (access denied)'
          : name === 'CredentialsProviderError'
            ? 'cannot be reached: no AWS credentials were found'
            : `failed (${name || (error instanceof Error ? error.message : 'unknown error')})`;
  return new AtomicBulkError(
    code,
    `${what} ${why}.`,
    {
      hint: 'Check the S3 location, AWS credentials, region, and AWS_ENDPOINT_URL_S3 for S3-compatible stores.',
      ...(status !== undefined ? { status } : {}),
    },
    error,
  );
}
