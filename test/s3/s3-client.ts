/** An S3 client for the radosgw of the S3 tier, destroyed when the current test finishes. */
import { S3Client } from '@aws-sdk/client-s3';
import { inject, onTestFinished } from 'vitest';

export function rgwClient(): S3Client {
  const rgw = inject('rgw');
  const c = new S3Client({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
  });
  onTestFinished(() => c.destroy());
  return c;
}
