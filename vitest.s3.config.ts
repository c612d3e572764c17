import { defineConfig } from 'vitest/config';

/** `npm run test:s3`: the contract tier against a real radosgw (started unless RGW_ENDPOINT is set). */
export default defineConfig({
  test: {
    include: ['test/s3/**/*.test.ts'],
    globalSetup: ['test/s3/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
