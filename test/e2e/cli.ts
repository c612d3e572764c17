/** Runs the built CLI as a user would, and reads what it wrote. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect, onTestFinished } from 'vitest';
import type { Report } from '../../src/model/report.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/cli/bin.js');
export const SAMPLES = join(ROOT, 'samples');
export const RENEWAL_FLOW = join(SAMPLES, 'flows/renewal-reminder.json');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  stdin?: string | Buffer;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Run the CLI under this umask (e.g. 0o000, to prove files are private whatever it is). */
  umask?: number;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
  return new Promise((resolvePromise, reject) => {
    const command =
      options.umask === undefined
        ? [process.execPath, BIN, ...args]
        : [
            '/bin/sh',
            '-c',
            `umask ${options.umask.toString(8).padStart(3, '0')}; exec "$0" "$@"`,
            process.execPath,
            BIN,
            ...args,
          ];
    const child = spawn(command[0] as string, command.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** `send <input>` to the sample renewal-reminder flow with its own state and report dirs. */
export function sendArgs(
  input: string,
  state: string,
  reportDir: string,
  extra: string[] = [],
): string[] {
  return [
    'send',
    input,
    '--flow',
    'renewal-reminder',
    '--state-dir',
    state,
    '--report-dir',
    reportDir,
    ...extra,
  ];
}

/** `validate <input>` against the sample renewal-reminder flow, reporting to `reportDir`. */
export function validateArgs(input: string, reportDir: string, extra: string[] = []): string[] {
  return ['validate', input, '--flow-config', RENEWAL_FLOW, '--report-dir', reportDir, ...extra];
}

/** A temporary directory, removed when the current test finishes. */
export async function tempDir(prefix = 'atomic-bulk-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
const validateSchema = ajv.compile(
  JSON.parse(readFileSync(join(ROOT, 'schemas/report.schema.json'), 'utf8')) as object,
);

/** Reads report.json from a report directory and checks it against the schema. */
export function readReport(dir: string): Report {
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  expectValidReport(report);
  expect(existsSync(join(dir, 'report.md'))).toBe(true);
  expect(existsSync(join(dir, 'report.html'))).toBe(true);
  return report;
}

export function expectValidReport(report: unknown): asserts report is Report {
  const ok = validateSchema(report);
  expect(ok, JSON.stringify(validateSchema.errors, null, 2)).toBe(true);
  const r = report as Report;
  expect(r.rows.total).toBe(r.rows.valid + r.rows.invalid);
}

/** Expected failures print one clear message, never a stack trace. */
export function expectNoStack(run: CliRun): void {
  expect(run.stderr).not.toMatch(
    /\n\s+at .+\(|\bat async\b|TypeError|ReferenceError|this is a bug/,
  );
}
