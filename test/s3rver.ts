/**
 * A real S3 server on 127.0.0.1 for the tests of s3:// inputs and report prefixes:
 * s3rver, a test-only dependency (the sandbox has its own store for uploads). Its
 * credentials are S3RVER/S3RVER; the bucket "atomic-sandbox" exists.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface TestS3 {
  endpoint: string;
  stop(): Promise<void>;
}

const noop = (): void => undefined;
const QUIET = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  close: noop,
  exceptions: { unhandle: noop },
};

export async function startTestS3(bucket = 'atomic-sandbox'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'atomic-bulk-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  server.logger = QUIET;
  server.context.logger = QUIET;
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
