/** Report files go to S3 with at most one part in memory, against a real S3 server (s3rver, test-only). */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isAtomicBulkError } from '../../src/model/errors.js';
import { putS3File } from '../../src/s3/s3.js';
import { tempDir } from '../e2e/cli.js';
import { startTestS3 } from '../s3rver.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('putS3File', () => {
  it('uploads small files whole and large ones in parts, byte for byte', async () => {
    const sb = await startTestS3();
    onTestFinished(() => sb.stop());
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    const s3 = new S3Client({
      endpoint: sb.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    onTestFinished(() => s3.destroy());
    const dir = await tempDir();
    const get = async (key: string) =>
      Buffer.from(
        (await (
          await s3.send(new GetObjectCommand({ Bucket: 'atomic-sandbox', Key: key }))
        ).Body?.transformToByteArray()) ?? [],
      );

    const small = randomBytes(1000);
    await writeFile(join(dir, 'small.csv'), small);
    await putS3File('s3://atomic-sandbox/r/small.csv', join(dir, 'small.csv'), 'text/csv', {
      endpoint: sb.endpoint,
    });
    expect(sha(await get('r/small.csv'))).toBe(sha(small));

    // 13 MiB in 5 MiB parts: three parts, the last one short.
    const large = randomBytes(13 * 1024 * 1024 + 17);
    await writeFile(join(dir, 'large.csv'), large);
    await putS3File('s3://atomic-sandbox/r/large.csv', join(dir, 'large.csv'), 'text/csv', {
      endpoint: sb.endpoint,
      partBytes: 5 * 1024 * 1024,
    });
    const back = await get('r/large.csv');
    expect(back.length).toBe(large.length);
    expect(sha(back)).toBe(sha(large));

    const error = await putS3File(
      's3://no-such-bucket/r/large.csv',
      join(dir, 'large.csv'),
      'text/csv',
      { endpoint: sb.endpoint, partBytes: 5 * 1024 * 1024 },
    ).catch((e: unknown) => e);
    expect(isAtomicBulkError(error) && error.message).toBe(
      'Report file s3://no-such-bucket/r/large.csv is in a bucket that does not exist.',
    );
  });
});
