/**
 * Starts a one-node radosgw for the contract tests (scripts/radosgw.sh) and stops it
 * afterwards, or uses the one named by RGW_ENDPOINT / RGW_ACCESS_KEY / RGW_SECRET_KEY.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

export interface Rgw {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    rgw: Rgw;
  }
}

const script = resolve(import.meta.dirname, '../../scripts/radosgw.sh');

export default function setup(project: TestProject): () => void {
  const given = process.env.RGW_ENDPOINT;
  if (given !== undefined) {
    project.provide('rgw', {
      endpoint: given,
      accessKey: process.env.RGW_ACCESS_KEY ?? '',
      secretKey: process.env.RGW_SECRET_KEY ?? '',
    });
    return () => undefined;
  }
  const parent = mkdtempSync(join(tmpdir(), 'atomic-bulk-rgw-'));
  const dir = join(parent, 'cluster');
  const stop = () => {
    execFileSync(script, ['stop', dir], { stdio: 'inherit' });
    rmSync(parent, { recursive: true, force: true });
  };
  try {
    execFileSync(script, ['start', dir], { stdio: 'inherit' });
  } catch (error) {
    stop();
    throw error;
  }
  const env = Object.fromEntries(
    readFileSync(join(dir, 'env'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
  project.provide('rgw', {
    endpoint: env.RGW_ENDPOINT as string,
    accessKey: env.RGW_ACCESS_KEY as string,
    secretKey: env.RGW_SECRET_KEY as string,
  });
  return stop;
}
