/**
 * S3 hand-off (SPEC 4): read an input object as a stream and write report files to a
 * prefix. The AWS SDK costs ~150 ms to load, so this module is imported lazily, only
 * when an s3:// location is used. The standard credential chain and region settings
 * apply; AWS_ENDPOINT_URL_S3 or --s3-endpoint point it at any S3-compatible store, with
 * path-style addressing.
 */
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
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
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

function s3Error(code: 'INPUT' | 'OUTPUT', what: string, error: unknown): AtomicBulkError {
  if (error instanceof AtomicBulkError) return error;
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
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
  return new AtomicBulkError(code, `${what} ${why}.`, {
    hint: 'Check the S3 location, AWS credentials, region, and AWS_ENDPOINT_URL_S3 for S3-compatible stores.',
    ...(status !== undefined ? { status } : {}),
  }, error);
}
