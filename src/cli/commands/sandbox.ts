/** `atomic-bulk sandbox`: run the local Atomic sandbox in the foreground until stopped. */
import { once } from 'node:events';
import type { Sandbox } from '../../sandbox/sandbox.js';
import type { CliContext } from '../context.js';
import type { Argv } from 'yargs';
import { defineCommand } from './command.js';
import { intArg, stringArg, type Args } from '../options.js';
import { AtomicBulkError } from '../../model/errors.js';
import { parseDuration } from '../../state/runs.js';

const G = { server: 'Server:', faults: 'Fault injection (deterministic under --seed):', s3: 'S3:' };

function rate(args: Args, name: string): number {
  const value = args[name];
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new AtomicBulkError('USAGE', `--${name} must be between 0 and 1.`);
  return value;
}

function durationArg(args: Args, name: string, min: number): number {
  const ms = parseDuration(String(args[name]), 's');
  if (ms === null || ms < min)
    throw new AtomicBulkError('USAGE', `--${name} must be a duration such as 1h, 10s or 500ms.`);
  return ms;
}

/** The server: port, flows, URL and token lifetimes, upload limits. */
function serverOptions<T>(y: Argv<T>) {
  return y
    .option('port', {
      type: 'number',
      default: 4010,
      describe: 'API port on 127.0.0.1 (0: any free port)',
      group: G.server,
    })
    .option('flows-dir', {
      type: 'string',
      describe: 'Directory of flow JSON files [default: the package’s samples/flows]',
      group: G.server,
    })
    .option('url-ttl', {
      type: 'number',
      default: 300,
      describe: 'Upload URL validity, in seconds',
      group: G.server,
    })
    .option('token-ttl', {
      type: 'number',
      default: 3600,
      describe: 'Access token validity, in seconds',
      group: G.server,
    })
    .option('max-upload-bytes', {
      type: 'number',
      default: 32_000_000,
      describe: 'Largest accepted upload, in bytes',
      group: G.server,
    })
    .option('max-running-tasks', {
      type: 'number',
      default: 5,
      describe: 'Bulk tasks at once before csv-task answers 429 (0: no limit)',
      group: G.server,
    })
    .option('upload-method', {
      choices: ['post', 'put'] as const,
      default: 'post',
      describe: 'Presigned POST (as Atomic documents) or PUT',
      group: G.server,
    })
    .option('store-payloads', {
      type: 'boolean',
      default: true,
      describe:
        'Keep every invocation, on disk, for GET /sandbox/invocations (--no-store-payloads saves disk on huge sends)',
      group: G.server,
    })
    .option('keep-uploads', {
      type: 'boolean',
      default: false,
      describe:
        'Keep uploaded files after processing them (they hold personal data; removed on stop)',
      group: G.server,
    });
}

/** Processing: memory, pace, the analytics export. */
function processingOptions<T>(y: Argv<T>) {
  return y
    .option('index-memory-mb', {
      type: 'number',
      default: 64,
      describe:
        'Memory for the invocation id index, in MiB (about a million ids); beyond it the index is on disk',
      group: G.server,
    })
    .option('process-quiet-ms', {
      type: 'number',
      default: 300,
      describe: 'Process uploaded files once uploads have been quiet this long (ms)',
      group: G.server,
    })
    .option('process-delay-ms', {
      type: 'number',
      default: 0,
      describe:
        'Start processing an upload no sooner than this after it arrived (Atomic is asynchronous)',
      group: G.server,
    })
    .option('analytics-hour', {
      type: 'string',
      default: '1h',
      describe:
        'Length of one period of the analytics export (shorter to rehearse reconcile --source analytics)',
      group: G.server,
    })
    .option('analytics-delay', {
      type: 'string',
      default: '5m',
      describe: 'A period of the analytics export is listed this long after it ends',
      group: G.server,
    });
}

/** The customer directory the Cards API matches rows against, the cancel path, the log. */
function customerOptions<T>(y: Argv<T>) {
  return y
    .option('directory', {
      type: 'string',
      describe:
        'Customer directory JSON: [{"userId","attributes":{…},"testUser"}] [default: 60 seeded customers and 3 test users]',
      group: G.server,
    })
    .option('implicit-users', {
      type: 'boolean',
      default: true,
      describe:
        'An unknown target.attributes.atomic___id is a user of its own (--no-implicit-users: it matches nobody)',
      group: G.server,
    })
    .option('cancel-path', {
      type: 'string',
      default: '/v1/{env}/cards/cancel',
      describe: 'Path of the card cancel request (assumed; Atomic does not publish it)',
      group: G.server,
    })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe: 'Log each request to stderr',
      group: G.server,
    });
}

/** Faults of the token, csv-task and upload endpoints. */
function uploadFaultOptions<T>(y: Argv<T>) {
  return y
    .option('seed', {
      type: 'number',
      default: 1,
      describe: 'Seed of every fault decision',
      group: G.faults,
    })
    .option('csv-task-429-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of csv-task calls answered 429 with Retry-After',
      group: G.faults,
    })
    .option('csv-task-5xx-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of csv-task calls answered 503',
      group: G.faults,
    })
    .option('upload-5xx-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of uploads answered 503',
      group: G.faults,
    })
    .option('upload-reset-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of uploads whose connection is reset mid-body',
      group: G.faults,
    })
    .option('token-429-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of token calls answered 429',
      group: G.faults,
    })
    .option('token-revoke-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of API calls whose token is found revoked (401)',
      group: G.faults,
    })
    .option('slow-upload-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of uploads held --slow-upload-ms before they are checked',
      group: G.faults,
    })
    .option('slow-upload-ms', {
      type: 'number',
      default: 3000,
      describe: 'How long a slow upload is held',
      group: G.faults,
    });
}

/** Faults of the Cards API and of card making; delays. */
function cardFaultOptions<T>(y: Argv<T>) {
  return y
    .option('cards-429-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of Cards API calls answered 429',
      group: G.faults,
    })
    .option('cards-5xx-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of Cards API calls answered 503',
      group: G.faults,
    })
    .option('card-error-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of new invocations whose card cannot be made (card-error event, no card)',
      group: G.faults,
    })
    .option('card-display-rate', {
      type: 'number',
      default: 0,
      describe: 'Share of published cards shown to their user at once (card-displayed event)',
      group: G.faults,
    })
    .option('retry-after', {
      type: 'number',
      default: 1,
      describe: 'Retry-After on injected 429s, in seconds',
      group: G.faults,
    })
    .option('latency-ms', {
      type: 'number',
      default: 0,
      describe: 'Delay added to every response',
      group: G.faults,
    });
}

/** Uploads to a real S3 server instead of the sandbox’s store. */
function s3Options<T>(y: Argv<T>) {
  return y
    .option('s3-endpoint', {
      type: 'string',
      describe:
        'Use this S3-compatible store (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) instead of the built-in one',
      group: G.s3,
    })
    .option('s3-bucket', {
      type: 'string',
      default: 'atomic-sandbox',
      describe: 'Bucket for uploads (created if missing)',
      group: G.s3,
    })
    .option('direct-uploads', {
      type: 'boolean',
      default: false,
      describe: 'Hand out URLs straight to S3 instead of through the sandbox gateway',
      group: G.s3,
    });
}

export const sandboxCommand = defineCommand({
  command: 'sandbox',
  describe: 'Run the local Atomic sandbox (token, flows, csv-task, S3 uploads) until Ctrl-C',
  builder: (y) =>
    s3Options(
      cardFaultOptions(uploadFaultOptions(customerOptions(processingOptions(serverOptions(y))))),
    ).example([
      ['$0 sandbox', 'Start on port 4010 and print the settings to use'],
      ['$0 sandbox --port 0 --upload-method put', 'Any free port; hand out presigned PUT URLs'],
      [
        '$0 sandbox --url-ttl 2 --csv-task-429-rate 0.2 --seed 7',
        'Short-lived URLs and rate limiting, reproducibly',
      ],
    ]),
  async run(args, context) {
    const { createSandbox } = await import('../../sandbox/sandbox.js');
    const users = await directoryOf(stringArg(args, 'directory'));
    const sandbox = await createSandbox({
      port: intArg(args, 'port', { min: 0, max: 65535 }),
      flowsDir: stringArg(args, 'flows-dir'),
      urlTtlSeconds: intArg(args, 'url-ttl', 1),
      tokenTtlSeconds: intArg(args, 'token-ttl', 1),
      maxUploadBytes: intArg(args, 'max-upload-bytes', 1),
      maxRunningTasks: intArg(args, 'max-running-tasks', 0),
      uploadMethod: args['upload-method'] as 'post' | 'put',
      storePayloads: args['store-payloads'],
      keepUploads: args['keep-uploads'],
      indexMemoryBytes: intArg(args, 'index-memory-mb', 1) * 1024 * 1024,
      processQuietMs: intArg(args, 'process-quiet-ms', 0),
      processDelayMs: intArg(args, 'process-delay-ms', 0),
      analytics: {
        hourMs: durationArg(args, 'analytics-hour', 1),
        delayMs: durationArg(args, 'analytics-delay', 0),
      },
      ...(users !== undefined ? { users } : {}),
      implicitUsers: args['implicit-users'],
      cancelPath: stringArg(args, 'cancel-path'),
      directUploads: args['direct-uploads'],
      // The client secret is made at random for this start: a real ATOMIC_CLIENT_SECRET in
      // the environment is never taken as the sandbox's (it would then be sent to it).
      ...(stringArg(args, 's3-endpoint') !== undefined
        ? { s3: { endpoint: stringArg(args, 's3-endpoint'), bucket: stringArg(args, 's3-bucket') } }
        : {}),
      faults: faultsOf(args),
      log: args.verbose ? (line) => context.io.err(`[sandbox] ${line}`) : undefined,
    });
    printSettings(sandbox, context.io);
    if (!context.signal.aborted) await once(context.signal, 'abort');
    await sandbox.stop();
    context.io.err(`sandbox stopped: ${JSON.stringify(sandbox.stats())}`);
    return 0;
  },
});

/** The customer directory file (--directory), read; undefined without one. */
async function directoryOf(file: string | undefined) {
  if (file === undefined) return undefined;
  const { loadDirectory } = await import('../../sandbox/directory.js');
  try {
    return await loadDirectory(file);
  } catch (error) {
    throw new AtomicBulkError(
      'USAGE',
      `--directory ${file} is not a readable directory file (${(error as Error).message}).`,
    );
  }
}

function faultsOf(args: Args) {
  return {
    seed: intArg(args, 'seed', 0),
    csvTask429Rate: rate(args, 'csv-task-429-rate'),
    csvTask5xxRate: rate(args, 'csv-task-5xx-rate'),
    upload5xxRate: rate(args, 'upload-5xx-rate'),
    uploadResetRate: rate(args, 'upload-reset-rate'),
    token429Rate: rate(args, 'token-429-rate'),
    tokenRevokeRate: rate(args, 'token-revoke-rate'),
    cards429Rate: rate(args, 'cards-429-rate'),
    cards5xxRate: rate(args, 'cards-5xx-rate'),
    slowUploadRate: rate(args, 'slow-upload-rate'),
    cardErrorRate: rate(args, 'card-error-rate'),
    cardDisplayRate: rate(args, 'card-display-rate'),
    slowUploadMs: intArg(args, 'slow-upload-ms', 0),
    retryAfterSeconds: intArg(args, 'retry-after', 0),
    latencyMs: intArg(args, 'latency-ms', 0),
  };
}

/** The settings a shell takes with `eval`, on stdout; how to inspect it, on stderr. */
function printSettings(sandbox: Sandbox, io: CliContext['io']): void {
  io.out(`export ATOMIC_BASE_URL=${sandbox.url}`);
  io.out(`export ATOMIC_ENVIRONMENT_ID=${sandbox.environmentId}`);
  io.out(`export ATOMIC_TOKEN_URL=${sandbox.tokenUrl}`);
  io.out(`export ATOMIC_CLIENT_ID=${sandbox.clientId}`);
  // Sandbox-only credentials, made for this start: printing them is how they are shared.
  io.out(`export ATOMIC_CLIENT_SECRET=${sandbox.clientSecret}`);
  io.out(`export ATOMIC_SANDBOX_TOKEN=${sandbox.inspectionToken}`);
  io.err(
    `atomic-bulk sandbox listening on ${sandbox.url} (uploads at ${sandbox.s3Endpoint}); Ctrl-C to stop.`,
  );
  io.err(
    `Inspect: curl -H "Authorization: Bearer $ATOMIC_SANDBOX_TOKEN" ${sandbox.url}/sandbox/tasks (also /sandbox/invocations, /sandbox/stats)`,
  );
}
