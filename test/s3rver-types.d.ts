/** Types for the parts of s3rver (plain JavaScript, a test-only dependency) that the tests use. */
declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    httpServer?: import('node:http').Server;
    logger: unknown;
    context: { logger: unknown };
    close(): Promise<void>;
  }
}
