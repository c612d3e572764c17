/** `atomic-bulk send <input>`: validate → split → csv-task URL → upload → report. */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicBulkError } from '../../model/errors.js';
import type { LoadedFlow } from '../../pipeline/flow-source.js';
import { LIMITS } from '../../model/limits.js';
import { SEND_DEFAULTS } from '../../pipeline/send-options.js';
import type { AtomicApi } from '../../api/client.js';
import { withApi } from '../api-args.js';
import { campaignFrom, campaignOptions } from '../campaign-args.js';
import { notifierFor, withNotice } from '../notify-args.js';
import { flowFromApi, loadFlow } from '../flow-args.js';
import { defineCommand } from './command.js';
import {
  connectionOptions,
  notifyOption,
  flowOptions,
  GROUPS,
  inputArg,
  nextStepFlags,
  intArg,
  outputOptions,
  partBytesOption,
  printReport,
  progressFor,
  stringArg,
} from '../options.js';

/** --lease-ttl is in seconds; the library's leaseTtlMs in milliseconds. */
const LEASE_TTL_SECONDS = {
  min: LIMITS.leaseTtlMs.min / 1000,
  max: LIMITS.leaseTtlMs.max / 1000,
};

/** How a send goes: test or live, parts in flight, invalid rows, a rehearsal. */
function sendingOptions<T>(y: Argv<T>) {
  return y
    .option('test', {
      type: 'boolean',
      default: false,
      describe: 'Send through csv-task/test: draft flows allowed, test users only',
      group: GROUPS.sending,
    })
    .option('concurrency', {
      type: 'number',
      default: SEND_DEFAULTS.concurrency,
      describe: `Parts uploading at once, ${LIMITS.concurrency.min}–${LIMITS.concurrency.max} (Atomic runs at most ${LIMITS.concurrency.max} bulk tasks); memory and disk hold about this many parts`,
      group: GROUPS.sending,
    })
    .option('on-invalid', {
      choices: ['abort', 'skip'] as const,
      default: SEND_DEFAULTS.onInvalid,
      describe:
        'abort: any invalid row means nothing is sent (exit 1); skip: send the valid rows (exit 4)',
      group: GROUPS.sending,
    })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'Validate and cut parts, but never call csv-task',
      group: GROUPS.sending,
    });
}

/** Where a send's run lives, under what name, and how it is held. */
function stateOptions<T>(y: Argv<T>) {
  return y
    .option('run-id', {
      type: 'string',
      describe:
        'Name of the run [default: SHA-256 of the input]; a new id re-sends the same file as a new campaign',
      group: GROUPS.sending,
    })
    .option('state-dir', {
      type: 'string',
      default: SEND_DEFAULTS.stateDir,
      describe:
        'Where run state is kept for resuming: a folder, or s3://bucket/prefix/ so a job on another machine resumes it (with --sandbox: a temporary folder removed after the run)',
      group: GROUPS.sending,
    })
    .option('lease-ttl', {
      type: 'number',
      default: SEND_DEFAULTS.leaseTtlMs / 1000,
      describe:
        "S3 state: seconds a send's lease on its run lasts unless renewed (renewed every third of it); a crashed send blocks the run this long",
      group: GROUPS.sending,
    })
    .option('lease', {
      type: 'boolean',
      default: true,
      describe:
        'S3 state: take a lease on the run; --no-lease only where the scheduler already runs one send at a time and the store lacks conditional writes',
      group: GROUPS.sending,
    });
}

export const sendCommand = defineCommand({
  command: 'send <input..>',
  describe:
    'Send a campaign CSV to an Action Flow: validate, split under 32 MB, upload each part, report',
  builder: (y) =>
    outputOptions(
      partBytesOption(
        sendingOptions(
          stateOptions(campaignOptions(notifyOption(connectionOptions(flowOptions(y))))),
        )
          .positional('input', {
            type: 'string',
            describe:
              'CSV file (plain or gzip), - for standard input, s3://bucket/key; or several files read as one campaign: paths, a directory, a glob, s3://bucket/prefix/',
          })
          .option('force', {
            type: 'boolean',
            default: false,
            describe: 'Upload parts already recorded as uploaded again (same invocation ids)',
            group: GROUPS.sending,
          })
          .option('keep-parts', {
            type: 'boolean',
            default: false,
            describe: 'Keep part files after upload (in the run’s state directory)',
            group: GROUPS.sending,
          })
          .option('allow-unknown-variables', {
            type: 'boolean',
            default: false,
            describe: 'Report payload.variables columns the flow does not define as warnings',
            group: GROUPS.checks,
          }),
        GROUPS.sending,
      ),
    ).example([
      [
        '$0 send campaign.csv --flow renewal-reminder',
        'Send to all users of a published flow (credentials from ATOMIC_* variables)',
      ],
      [
        '$0 send samples/campaign.csv --flow renewal-reminder --sandbox',
        'Try it end to end against the local sandbox',
      ],
      [
        '$0 send s3://drop/in.csv --flow renewal-reminder --on-invalid skip --report-dir s3://drop/reports/',
        'Data hand-off: read from S3, report back to S3',
      ],
      [
        '$0 send today.csv --flow renewal-reminder --campaign renewals --once-per 30d --rate 20000/min',
        'A daily export: each user once per 30 days across runs, paced',
      ],
    ]),
  async run(args, context) {
    // Loaded when the command runs: --help and the other commands do not pay for it.
    const { send } = await import('../../pipeline/send.js');
    const flowConfigId = stringArg(args, 'flow');
    if (flowConfigId === undefined)
      throw new AtomicBulkError(
        'USAGE',
        'send needs --flow <flowConfigId> (with --flow-config, --flow still names the flow to send to).',
      );
    const dryRun = args['dry-run'];
    const notifier = notifierFor(args, context, 'send');
    const campaign = campaignFrom(args, context);
    const progress = progressFor(args, context);
    // The embedded sandbox forgets everything when it stops, so its run state must not
    // outlive it either, nor ever sit beside state for a real Atomic.
    const sandboxState =
      args.sandbox && !dryRun ? await mkdtemp(join(tmpdir(), 'atomic-bulk-sandbox-state-')) : null;
    const run = (flow: LoadedFlow, api: AtomicApi | null) =>
      send({
        input: inputArg(args),
        flow,
        flowConfigId,
        mode: args.test ? 'test' : 'live',
        api,
        maxPartBytes: intArg(args, 'max-part-bytes', LIMITS.maxPartBytes),
        concurrency: intArg(args, 'concurrency', LIMITS.concurrency),
        onInvalid: args['on-invalid'],
        dryRun,
        runId: stringArg(args, 'run-id'),
        stateDir: sandboxState ?? stringArg(args, 'state-dir'),
        leaseTtlMs: intArg(args, 'lease-ttl', LEASE_TTL_SECONDS) * 1000,
        noLease: !args.lease,
        force: args.force,
        reportDir: stringArg(args, 'report-dir'),
        keepParts: args['keep-parts'],
        maxIssues: intArg(args, 'max-issues', LIMITS.maxIssues),
        allowUnknownVariables: args['allow-unknown-variables'],
        s3Endpoint: stringArg(args, 's3-endpoint'),
        progress: progress.sink,
        signal: context.signal,
        nextStepFlags: nextStepFlags(args),
        sandbox: args.sandbox,
        notifier,
        ...campaign,
      });
    try {
      const result = await withNotice(notifier, () =>
        dryRun && !flowFromApi(args) && !args.sandbox
          ? loadFlow(args, null).then((flow) => run(flow, null))
          : withApi(args, context, progress.sink, async ({ api }) =>
              run(await loadFlow(args, api), api),
            ),
      );
      progress.stop();
      return printReport(result.report, result.reportDir, args, context);
    } finally {
      progress.stop();
      if (sandboxState !== null) await rm(sandboxState, { recursive: true, force: true });
    }
  },
});
