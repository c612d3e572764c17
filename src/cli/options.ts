/**
 * Flags shared by several commands, and their conversion from raw yargs values into
 * typed settings. Every default, unit and memory effect is stated in the help text.
 */
import { LIMITS, type Range } from '../model/limits.js';
import { SEND_DEFAULTS } from '../pipeline/send-options.js';
import type { Argv } from 'yargs';
import { AtomicBulkError } from '../model/errors.js';
import type { Report } from '../model/report.js';
import type { TelemetrySummary } from '../model/telemetry.js';
import type { CliContext } from './context.js';
import { summaryLine } from '../report/report-md.js';
import { issueDigest } from '../report/report-view.js';
import { printable } from '../model/redact.js';
import { STDIN_PLACEHOLDER } from './io.js';
import { createProgress, type ProgressMode, type ProgressRenderer } from './progress.js';

export type Args = Record<string, unknown>;

export const GROUPS = {
  flow: 'Flow:',
  connection: 'Connection (flags override environment variables):',
  checks: 'Checks:',
  sending: 'Sending:',
  campaign: 'Recurring campaigns and pacing:',
  output: 'Output:',
  s3: 'S3:',
};

export function flowOptions<T>(y: Argv<T>) {
  return y
    .option('flow', {
      type: 'string',
      describe: 'Flow config id, fetched from the API',
      group: GROUPS.flow,
    })
    .option('flow-version', {
      type: 'string',
      default: 'latest',
      describe: 'Flow config version: a number or "latest"',
      group: GROUPS.flow,
    })
    .option('flow-config', {
      type: 'string',
      describe:
        'Local flow config JSON (the API response, its data, or data.config); works offline',
      group: GROUPS.flow,
    });
}

export function connectionOptions<T>(y: Argv<T>) {
  return y
    .option('base-url', {
      type: 'string',
      describe:
        'API base URL from the Workbench, e.g. https://{orgId}.customer-api.atomic.io [env ATOMIC_BASE_URL]',
      group: GROUPS.connection,
    })
    .option('environment', {
      type: 'string',
      describe: 'Environment id [env ATOMIC_ENVIRONMENT_ID]',
      group: GROUPS.connection,
    })
    .option('token-url', {
      type: 'string',
      describe:
        "OAuth2 token URL [env ATOMIC_TOKEN_URL; default: Atomic's]. Credentials come only from ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET",
      group: GROUPS.connection,
    })
    .option('sandbox', {
      type: 'boolean',
      default: false,
      describe: 'Start the local Atomic sandbox for this run and use it (no credentials needed)',
      group: GROUPS.connection,
    })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe: 'Log every API request (method, URL without query string, status, time) to stderr',
      group: GROUPS.connection,
    });
}

export function outputOptions<T>(y: Argv<T>) {
  return y
    .option('report-dir', {
      type: 'string',
      describe:
        'Where report files go: a directory or s3://bucket/prefix/ [default: ./atomic-bulk-report-<timestamp>/]',
      group: GROUPS.output,
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print report.json on stdout and nothing else there',
      group: GROUPS.output,
    })
    .option('max-issues', {
      type: 'number',
      default: SEND_DEFAULTS.maxIssues,
      describe:
        'Issues listed in the report; counts stay complete. Memory grows with this, not with the file',
      group: GROUPS.output,
    })
    .option('progress', {
      choices: ['auto', 'bar', 'json', 'none'] as const,
      default: 'auto',
      describe: 'Progress on stderr: a bar on a terminal, NDJSON events with json',
      group: GROUPS.output,
    })
    .option('s3-endpoint', {
      type: 'string',
      describe: 'S3-compatible endpoint for s3:// inputs and report dirs [env AWS_ENDPOINT_URL_S3]',
      group: GROUPS.s3,
    });
}

export function partBytesOption<T>(y: Argv<T>, group: string) {
  return y.option('max-part-bytes', {
    type: 'number',
    default: SEND_DEFAULTS.maxPartBytes,
    describe:
      'Largest part in bytes, header and line endings included (Atomic accepts 32 MB per file)',
    group,
  });
}

/** A whole-number flag within `range` (a limit from model/limits.ts, or `min` and up). */
export function intArg<A extends object>(
  args: A,
  name: keyof A & string,
  range: Range | number,
): number {
  const { min, max } =
    typeof range === 'number' ? { min: range, max: Number.MAX_SAFE_INTEGER } : range;
  const value = args[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
    throw new AtomicBulkError('USAGE', `--${name} must be a whole number, ${range}.`);
  }
  return value;
}

export function stringArg<A extends object>(args: A, name: keyof A & string): string | undefined {
  const value: unknown = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new AtomicBulkError('USAGE', `--${name} needs a value.`);
  }
  return value;
}

/**
 * The <input..> positional: paths, s3:// URIs, directories, globs, or `-` alone for
 * standard input. One argument stays a string (one file, or what it expands to).
 */
export function inputArg(args: Args): string | string[] {
  const raw = args.input;
  const values = (Array.isArray(raw) ? raw : [raw]).map((v: unknown) =>
    v === STDIN_PLACEHOLDER ? '-' : v,
  );
  if (values.length === 0 || values.some((v) => typeof v !== 'string' || v === ''))
    throw new AtomicBulkError(
      'USAGE',
      'Name the input: a CSV file, - for standard input, or s3://bucket/key.',
    );
  const names = values as string[];
  return names.length === 1 ? (names[0] as string) : names;
}

/** The command's progress renderer; its events also go to the command's telemetry. */
export function progressFor(args: Args, context: CliContext): ProgressRenderer {
  const renderer = createProgress(args.progress as ProgressMode, context.stderr, (line) => {
    context.io.err(line);
  });
  const telemetry = context.telemetry;
  if (telemetry === undefined || telemetry === null) return renderer;
  return {
    sink: (event) => {
      telemetry.progress(event);
      renderer.sink(event);
    },
    stop: () => renderer.stop(),
  };
}

/** What a report tells the command's telemetry: ids and counts. */
export function telemetrySummary(report: Report): TelemetrySummary {
  const uploaded = report.parts.filter((p) => p.status === 'uploaded');
  return {
    runId: report.runId,
    flow: report.flow.flowConfigId,
    mode: report.flow.mode,
    outcome: report.outcome,
    rows: {
      validated: report.rows.total,
      invalid: report.rows.invalid,
      sent: report.rows.sent,
      skipped: report.rows.skippedAlreadySent ?? 0,
    },
    bytes: {
      read: report.input.bytes,
      sent: uploaded.filter((p) => !p.previouslyUploaded).reduce((n, p) => n + p.bytes, 0),
    },
  };
}

/** Prints the result of validate/split/send: the report JSON with --json, else a summary. */
export function printReport(
  report: Report,
  reportDir: string,
  args: Args,
  context: CliContext,
): number {
  const io = context.io;
  context.telemetry?.summary(telemetrySummary(report));
  // Errors are named on stderr too, so nobody has to open report.md to learn what is wrong.
  for (const line of issueDigest(report)) io.err(printable(line));
  if (args.json === true) {
    io.out(JSON.stringify(report, null, 2));
    io.err(`${summaryLine(report)} Report: ${reportDir}`);
  } else {
    io.out(summaryLine(report));
    io.out(`Report: ${reportDir}${reportDir.endsWith('/') ? '' : '/'}report.md`);
    io.out(`Next step: ${report.nextStep}`);
  }
  return report.exitCode;
}

/** --notify (send, reconcile, cancel; SPEC 9). */
export function notifyOption<T>(y: Argv<T>) {
  return y.option('notify', {
    type: 'string',
    array: true,
    describe:
      'When the command ends, POST a JSON summary (with a Slack-ready "text") to this https URL; repeatable [env ATOMIC_BULK_NOTIFY_URL; signed with ATOMIC_BULK_NOTIFY_SECRET]',
    group: GROUPS.output,
  });
}

/**
 * What `reconcile` and `cancel` take: the run (a send's report folder or its run id), the
 * state directory to look a run id up in, and Cards API requests at once.
 */
export function sentRunOptions<T>(y: Argv<T>, concurrency: number) {
  return notifyOption(connectionOptions(y))
    .positional('run', {
      type: 'string',
      describe: 'The report folder of a send, or its run id (looked up in --state-dir)',
    })
    .option('concurrency', {
      type: 'number',
      default: concurrency,
      describe: `Cards API requests at once, ${LIMITS.cardConcurrency.min}–${LIMITS.cardConcurrency.max}`,
      group: GROUPS.sending,
    })
    .option('state-dir', {
      type: 'string',
      default: '.atomic-bulk',
      describe: 'Where send kept the run state (to find a run id)',
      group: GROUPS.sending,
    });
}

/** Flags a suggested `send` repeats when the user gave them: they decide what is checked and where it goes. */
const CARRIED_FLAGS: readonly { name: string; skip?: unknown }[] = [
  { name: 'sandbox', skip: false },
  { name: 'test', skip: false },
  { name: 'flow-version', skip: 'latest' },
  { name: 'flow-config' },
  { name: 'allow-unknown-variables', skip: false },
  { name: 'max-part-bytes', skip: SEND_DEFAULTS.maxPartBytes },
  { name: 'state-dir' },
  { name: 'base-url' },
  { name: 'environment' },
  { name: 'token-url' },
  { name: 's3-endpoint' },
];

/** The flags of this command line that the "Next step" commands must repeat, as words. */
export function nextStepFlags(args: Args): string[] {
  const words: string[] = [];
  for (const { name, skip } of CARRIED_FLAGS) {
    const value = (args as Record<string, unknown>)[name];
    if (value === undefined || value === skip) continue;
    if (value === true) words.push(`--${name}`);
    else if (typeof value === 'string' || typeof value === 'number')
      words.push(`--${name}`, String(value));
  }
  return words;
}
