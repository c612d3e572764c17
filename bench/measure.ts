/** Runs a Node program as its own process and measures its wall time and peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessFigures {
  seconds: number;
  maxRssMiB: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node --import rss-hook <args>` from `root`: the hook writes the process's peak RSS on
 * exit. stderr is inherited unless `captureStderr`.
 */
export async function measureNode(
  root: string,
  args: string[],
  env: Record<string, string> = {},
  captureStderr = false,
): Promise<ProcessFigures> {
  const rssFile = join(
    tmpdir(),
    `atomic-bulk-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}.json`,
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', join(root, 'bench/dist/bench/rss-hook.js'), ...args],
    {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        BENCH_RSS_FILE: rssFile,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', captureStderr ? 'pipe' : 'inherit'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const seconds = (performance.now() - started) / 1000;
  const { maxRssKiB } = JSON.parse(await readFile(rssFile, 'utf8')) as { maxRssKiB: number };
  await rm(rssFile, { force: true });
  return { seconds, maxRssMiB: maxRssKiB / 1024, code, stdout, stderr };
}

export interface ServerProcess {
  /** The ATOMIC_* settings it printed. */
  env: Record<string, string>;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a server that prints `export NAME=value` lines (`atomic-bulk sandbox`, the sink)
 * and returns its settings once ATOMIC_CLIENT_SECRET is printed. Only complete lines are
 * read, so a setting is never taken cut in half. A secret in this process's environment
 * is not passed on: it must not become the server's.
 */
export async function startServerProcess(
  args: string[],
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const { ATOMIC_CLIENT_SECRET: _ignored, ...env0 } = process.env;
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...env0, ...extraEnv },
  });
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const end = pending.lastIndexOf('\n');
      if (end < 0) return;
      for (const m of pending.slice(0, end).matchAll(/^export (\w+)=(.*)$/gm))
        env[m[1] as string] = m[2] as string;
      pending = pending.slice(end + 1);
      if (env.ATOMIC_CLIENT_SECRET !== undefined) resolve();
    });
    child.on('exit', () => reject(new Error(`the ${name} exited early`)));
  });
  return {
    env,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}

/** `send INPUT` to the sample renewal-reminder flow, quietly, with its own state and report folders. */
export function sendArgs(input: string, stateDir: string, reportDir: string): string[] {
  return [
    'send',
    input,
    '--flow',
    'renewal-reminder',
    '--state-dir',
    stateDir,
    '--report-dir',
    reportDir,
    '--progress',
    'none',
  ];
}
