/**
 * Connection flags → an API client: against Atomic (flags over environment variables,
 * the secret only from the environment), or against the embedded sandbox started for
 * this run with --sandbox. The sandbox module is loaded only then.
 */
import { AtomicClient } from '../api/client.js';
import { resolveConnection, type ConnectionSettings } from '../api/connection.js';
import type { ProgressSink } from '../model/progress.js';
import type { CliContext } from './context.js';
import { stringArg, type Args } from './options.js';

export interface Connected {
  api: AtomicClient;
  settings: ConnectionSettings;
  /** Set when the run uses the embedded sandbox. */
  sandbox: { url: string; s3Endpoint: string } | null;
}

export function connectionOptionsFrom(args: Args) {
  return {
    baseUrl: stringArg(args, 'base-url'),
    environmentId: stringArg(args, 'environment'),
    tokenUrl: stringArg(args, 'token-url'),
  };
}

/** Runs `fn` with a connected client; starts and stops the sandbox around it if asked. */
export async function withApi<T>(
  args: Args,
  context: CliContext,
  progress: ProgressSink,
  fn: (connected: Connected) => Promise<T>,
): Promise<T> {
  const verbose = args.verbose === true;
  const cancelPath = stringArg(args, 'cancel-path') ?? context.io.env.ATOMIC_CANCEL_PATH;
  const clientOptions = {
    signal: context.signal,
    ...(cancelPath !== undefined ? { cancelPath } : {}),
    onRetry: (e: { operation: string; attempt: number; delayMs: number; reason: string }) => {
      progress({
        type: 'retry',
        number: 0,
        attempt: e.attempt,
        reason: `${e.operation}: ${e.reason}`,
        delayMs: e.delayMs,
      });
    },
    ...(verbose
      ? {
          onResponse: (e: { method: string; url: string; status: number; ms: number }) => {
            context.io.err(`[http] ${e.method} ${e.url} → ${e.status} (${e.ms} ms)`);
          },
        }
      : {}),
  };
  if (args.sandbox === true) {
    const { createSandbox } = await import('../sandbox/sandbox.js');
    const sandbox = await createSandbox({
      log: verbose ? (line) => context.io.err(`[sandbox] ${line}`) : undefined,
    });
    try {
      const settings: ConnectionSettings = {
        baseUrl: sandbox.url,
        environmentId: sandbox.environmentId,
        tokenUrl: sandbox.tokenUrl,
        clientId: sandbox.clientId,
        clientSecret: sandbox.clientSecret,
      };
      const result = await fn({
        api: new AtomicClient(settings, clientOptions),
        settings,
        sandbox: { url: sandbox.url, s3Endpoint: sandbox.s3Endpoint },
      });
      await sandbox.settle().catch(() => undefined);
      return result;
    } finally {
      await sandbox.stop();
    }
  }
  const settings = resolveConnection(connectionOptionsFrom(args), context.io.env);
  return fn({ api: new AtomicClient(settings, clientOptions), settings, sandbox: null });
}
