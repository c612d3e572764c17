/**
 * --notify and ATOMIC_BULK_NOTIFY_URL / ATOMIC_BULK_NOTIFY_SECRET → a notifier for send,
 * reconcile and cancel (SPEC 9), and the notice of a command that stopped before its
 * report: the pipelines tell every end that writes a report, this tells the others.
 */
import { isAtomicBulkError } from '../model/errors.js';
import { EXIT, EXIT_BY_ERROR } from '../model/outcome.js';
import { Notifier } from '../notify/notifier.js';
import type { NotifyCommand } from '../notify/summary.js';
import type { CliContext } from './context.js';
import type { Args } from './options.js';

/** The notifier the flags (or, without them, the environment) ask for; undefined for none. */
export function notifierFor(
  args: Args,
  context: CliContext,
  command: NotifyCommand,
): Notifier | undefined {
  const flags = Array.isArray(args.notify) ? (args.notify as unknown[]).map(String) : [];
  const fromEnv = context.io.env.ATOMIC_BULK_NOTIFY_URL;
  const urls = flags.length > 0 ? flags : fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : [];
  if (urls.length === 0) return undefined;
  return new Notifier({
    command,
    urls,
    secret: context.io.env.ATOMIC_BULK_NOTIFY_SECRET,
    warn: (line) => context.io.err(`atomic-bulk: ${line}`),
  });
}

/** Runs a command; when it fails before its report told anyone, the notifier tells. */
export async function withNotice<T>(
  notifier: Notifier | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (notifier !== undefined)
      await notifier.notifyFailure(
        isAtomicBulkError(error)
          ? { exitCode: EXIT_BY_ERROR[error.code], message: error.message }
          : { exitCode: EXIT.bug, message: 'atomic-bulk stopped on an unexpected error.' },
      );
    throw error;
  }
}
