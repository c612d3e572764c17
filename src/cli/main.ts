/**
 * The command line: parses arguments, runs a command, and turns its outcome or error
 * into one clear line and an exit code. This is the only module that ends the process
 * or decides exit codes (via the table in model/outcome.ts).
 */
import yargs, { type Argv } from 'yargs';
import { AtomicBulkError, isAtomicBulkError } from '../model/errors.js';
import { EXIT, EXIT_BY_ERROR } from '../model/outcome.js';
import { TOOL_VERSION } from '../version.js';
import type { CliContext } from './context.js';
import { COMMANDS } from './commands/index.js';
import { STDIN_PLACEHOLDER, type CliIo } from './io.js';
import { printable, redact } from '../model/redact.js';
import { Suggester } from '../model/suggest.js';
import { ndjsonIo, wantsNdjson } from './ndjson.js';
import { startTelemetry } from './telemetry.js';

/** An error in how the tool was called, found by the argument parser. */
class UsageError extends Error {}

/** Unexpected failures exit with this code (EX_SOFTWARE) after printing the stack. */
export const EXIT_BUG = EXIT.bug;

export type { CliContext } from './context.js';

/** Runs the CLI with `argv` (arguments after the program name) and returns the exit code. */
export async function main(argv: string[], given: CliContext): Promise<number> {
  if (!wantsNdjson(argv)) return run(argv, given);
  const io = ndjsonIo(
    given.io,
    argv.find((a) => !a.startsWith('-')),
  );
  const code = await run(argv, { ...given, io }, (...a) => {
    io.error(...a);
  });
  io.finish(code);
  return code;
}

type ErrorEvent = (code: string, message: string, hint: string | undefined) => void;

async function run(argv: string[], context: CliContext, onError?: ErrorEvent): Promise<number> {
  const { io } = context;
  let exitCode: number = EXIT.success;
  const parser: Argv = yargs(argv.map((a) => (a === '-' ? STDIN_PLACEHOLDER : a)))
    .scriptName('atomic-bulk')
    .usage(
      '$0 <command> [options]\n\nValidate, split and send CSV campaigns to Atomic Action Flows.',
    )
    .strict()
    .demandCommand(1, 'Name a command; see atomic-bulk --help.')
    .recommendCommands()
    .exitProcess(false)
    .env(false)
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message: string | null, error: Error | undefined, usage: unknown) => {
      throw (
        error ?? new UsageError(withSuggestion(message ?? 'Invalid arguments.', usage, argv[0]))
      );
    });
  for (const command of COMMANDS) {
    parser.command({
      command: command.command,
      describe: command.describe,
      builder: command.builder,
      handler: async (args) => {
        exitCode = await runWithTelemetry(command, args, context);
      },
    });
  }
  parser.epilogue(
    'Exit codes: 0 success, 1 invalid rows, 2 usage or configuration error, 3 remote failure or run held by another send (retry later), 4 partly sent, 5 sent but the report could not be written (re-run with a writable --report-dir), 130 interrupted, 70 a bug in atomic-bulk.',
  );
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (error) {
    if (onError !== undefined && isAtomicBulkError(error))
      onError(error.code, printable(redact(error.message)), error.context.hint);
    return reportError(error, io, context.signal);
  }
}

/**
 * "Unknown argument: dryrun" → "… (did you mean --dry-run?)"; a missing positional says
 * which, in plain words.
 */
function withSuggestion(message: string, usage: unknown, command: string | undefined): string {
  const missing = /^Not enough non-option arguments: got 0, need at least 1$/.exec(message);
  if (missing !== null)
    return command === 'reconcile' || command === 'cancel'
      ? 'Name the run: the report folder of a send, or its run id.'
      : 'Name the input file (a path, - for standard input, or s3://bucket/key).';
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown === null) return message;
  const known = knownOptions(usage);
  const suggester = new Suggester(known);
  const given = (unknown[1] as string).split(', ');
  const kebab = (a: string) => a.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  // yargs lists --max-part-byte twice, also as maxPartByte.
  const distinct = given.filter((a) => a === kebab(a) || !given.includes(kebab(a)));
  const parts = distinct.map((arg) => {
    const name = arg.replace(/^-+/, '');
    const guess =
      suggester.closest(name)?.name ??
      known.find((k) => k.replaceAll('-', '') === name.replaceAll('-', '').toLowerCase());
    return guess !== undefined ? `--${name} (did you mean --${guess}?)` : `--${name}`;
  });
  return `Unknown option${parts.length === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}

/**
 * The long options of the command being parsed. yargs hands `fail` its usage object,
 * whose descriptions are keyed by option name.
 */
function knownOptions(usage: unknown): string[] {
  const descriptions = (usage as { getDescriptions?: () => Record<string, unknown> })
    .getDescriptions;
  if (typeof descriptions !== 'function') return [];
  return Object.keys(descriptions.call(usage)).filter((k) => k.length > 1);
}

/** Prints one line for an expected failure, the stack for a bug; returns the exit code. */
function reportError(error: unknown, io: CliIo, signal: AbortSignal): number {
  if (signal.aborted || (isAtomicBulkError(error) && error.code === 'INTERRUPTED')) {
    io.err('atomic-bulk: interrupted.');
    return EXIT.interrupted;
  }
  if (error instanceof UsageError) {
    io.err(`atomic-bulk: ${error.message}`);
    io.err('Run atomic-bulk --help, or atomic-bulk <command> --help.');
    return EXIT.usage;
  }
  if (isAtomicBulkError(error)) {
    io.err(`atomic-bulk: ${printable(redact(error.message))}`);
    if (error.context.detail) io.err(`  ${printable(redact(error.context.detail))}`);
    if (error.context.hint) io.err(`  ${printable(error.context.hint)}`);
    return EXIT_BY_ERROR[error.code];
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.err(redact(stack));
  io.err(
    'atomic-bulk: this is a bug in atomic-bulk. Please report it with the command you ran (without secrets).',
  );
  return EXIT_BUG;
}

/** Entry point of the `atomic-bulk` binary: wires the process and exits. */
export async function runCli(): Promise<never> {
  // A reader that stops early (`| head`, `| grep -q`) closes the pipe: what is left to
  // print has nowhere to go, which is not a failure of the run.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      const stopping = process.argv[2] === 'send' ? 'stopping and saving state' : 'stopping';
      const text = `atomic-bulk: ${name} received; ${stopping} (press Ctrl-C again to stop at once).`;
      process.stderr.write(
        wantsNdjson(process.argv.slice(2))
          ? `${JSON.stringify({ time: new Date().toISOString(), type: 'message', level: 'warn', text })}\n`
          : `\n${text}\n`,
      );
      controller.abort(new AtomicBulkError('INTERRUPTED', `Stopped by ${name}.`));
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CliIo = {
    out: (text) => {
      process.stdout.write(`${text}\n`);
    },
    err: (text) => {
      process.stderr.write(`${text}\n`);
    },
    errIsTTY: process.stderr.isTTY,
    env: process.env,
    cwd: process.cwd(),
  };
  const code = await main(process.argv.slice(2), {
    io,
    signal: controller.signal,
    stderr: process.stderr,
  });
  // Let stdout drain (a large --json report through a pipe) before exiting.
  await new Promise<void>((resolve) => {
    process.stdout.write('', () => {
      resolve();
    });
  });
  process.exit(code);
}

/**
 * Runs one command with its OpenTelemetry trace when OTEL_* asks for it: the trace ends
 * with the command's exit code, whatever ended it (an error ends it as the exit code the
 * error maps to).
 */
async function runWithTelemetry(
  command: (typeof COMMANDS)[number],
  args: Record<string, unknown>,
  context: CliContext,
): Promise<number> {
  const name = command.command.split(' ')[0] ?? 'atomic-bulk';
  const telemetry = await startTelemetry(name, context.env ?? process.env, (line) =>
    context.io.err(printable(redact(line))),
  );
  if (telemetry === null) return command.run(args, context);
  let code: number = EXIT.bug;
  try {
    code = await command.run(args, { ...context, telemetry });
    return code;
  } catch (error) {
    code = isAtomicBulkError(error) ? EXIT_BY_ERROR[error.code] : EXIT.bug;
    throw error;
  } finally {
    await telemetry.end(code);
  }
}
