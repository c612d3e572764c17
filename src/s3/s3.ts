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
  /** What a written object is, for error messages; default "Report file". */
  label?: string;
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

export interface S3Listing {
  /** Objects directly under the prefix: key and size. */
  objects: { key: string; size: number }[];
  /** Deeper "folders" under the prefix (keys with another `/` after it). */
  folders: string[];
}

/** Lists what lies directly under `prefix` of `bucket`, every page of it. */
export async function listS3Prefix(
  bucket: string,
  prefix: string,
  options: S3Options = {},
): Promise<S3Listing> {
  const client = await s3Client(options);
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const listing: S3Listing = { objects: [], folders: [] };
  let token: string | undefined;
  try {
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key !== undefined) listing.objects.push({ key: o.Key, size: o.Size ?? 0 });
      for (const p of page.CommonPrefixes ?? [])
        if (p.Prefix !== undefined) listing.folders.push(p.Prefix);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (error) {
    throw s3Error('INPUT', `Input s3://${bucket}/${prefix}`, error);
  }
  return listing;
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
    throw s3Error('OUTPUT', `${options.label ?? 'Report file'} ${uri}`, error);
  }
}

/** A small object's text and the ETag that names this version of it. */
export interface S3Text {
  text: string;
  etag: string;
  /** When the store says the object was last written (its clock), ms; null if it did not say. */
  lastModified: number | null;
}

/**
 * Reads a small object (run state) whole, refusing one larger than `maxBytes`; null when
 * it does not exist.
 */
export async function readS3Text(
  uri: string,
  maxBytes: number,
  options: S3Options = {},
): Promise<S3Text | null> {
  const { bucket, key } = parseS3Uri(uri);
  const client = await s3Client(options);
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const tooLarge = () =>
      new AtomicBulkError('STATE', `Run state ${uri} is larger than ${maxBytes} bytes.`);
    if ((response.ContentLength ?? 0) > maxBytes) throw tooLarge();
    // Read with the cap, not after it: a store may send no length, or the wrong one.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of (response.Body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(Buffer.from(chunk));
    }
    const text = Buffer.concat(chunks).toString('utf8');
    return {
      text,
      etag: unquote(response.ETag ?? ''),
      lastModified: response.LastModified?.getTime() ?? null,
    };
  } catch (error) {
    const name = (error as { name?: string } | undefined)?.name;
    if (name === 'NoSuchKey' || name === 'NotFound') return null;
    throw s3Error('STATE', `Run state ${uri}`, error);
  }
}

/** Only write if the object does not exist, or only if it is still this version. */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/**
 * Writes an object on a condition (S3 conditional writes). Returns the new ETag, or null
 * when the condition failed (412: someone else created or changed the object).
 *
 * ETags are sent without quotes and, if that is refused while the object still has that
 * ETag, once more with them: radosgw 16 compares If-Match literally against the bare
 * ETag, other stores may expect the quoted form.
 */
export async function writeS3Conditional(
  uri: string,
  body: string,
  condition: WriteCondition,
  options: S3Options = {},
): Promise<string | null> {
  const { bucket, key } = parseS3Uri(uri);
  const client = await s3Client(options);
  const { PutObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const put = async (extra: { IfNoneMatch?: string; IfMatch?: string }) => {
    try {
      const r = await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ...extra,
        }),
      );
      return unquote(r.ETag ?? '');
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      // 409: a concurrent conditional write to the same key won (AWS ConditionalRequestConflict).
      if (status === 412 || status === 409) return null;
      throw s3Error('STATE', `Run state ${uri}`, error);
    }
  };
  if ('ifNoneMatch' in condition) return put({ IfNoneMatch: '*' });
  const bare = unquote(condition.ifMatch);
  const first = await put({ IfMatch: bare });
  if (first !== null) return first;
  const head = await client
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .catch(() => null);
  if (head === null || unquote(head.ETag ?? '') !== bare) return null;
  return put({ IfMatch: `"${bare}"` });
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** Downloads an object to a new private file. */
export async function downloadS3File(
  uri: string,
  path: string,
  options: S3Options = {},
): Promise<void> {
  const object = await openS3Object(uri, options);
  const file = await open(path, 'wx', 0o600);
  try {
    for await (const chunk of object.body()) await file.write(chunk);
  } finally {
    await file.close();
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
    await putMultipart({ uri, file, size, contentType, partBytes }, options);
  } finally {
    await file.close();
  }
}

/** A large file's multipart upload, one part in memory at a time; aborted when it fails. */
async function putMultipart(
  upload: { uri: string; file: FileHandle; size: number; contentType: string; partBytes: number },
  options: S3Options,
): Promise<void> {
  const { uri, file, size, contentType, partBytes } = upload;
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
        .send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
    }
    throw s3Error('OUTPUT', `${options.label ?? 'Report file'} ${uri}`, error);
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

function s3Error(
  code: 'INPUT' | 'OUTPUT' | 'STATE',
  what: string,
  error: unknown,
): AtomicBulkError {
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

/** Deletes one object (absent is fine: a delete is safe to repeat). */
export async function deleteS3Object(uri: string, options: S3Options = {}): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const client = await s3Client(options);
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    throw s3Error('OUTPUT', `${options.label ?? 'Object'} ${uri}`, error);
  }
}
