/**
 * What `send` takes and returns, and the one place its defaults are decided:
 * `resolveSendOptions` turns what a caller gave into a fully-defaulted, range-checked
 * `ResolvedSendOptions` that every step of a send reads as it is. The CLI's flag defaults
 * are these same constants.
 */
import type { ReportNotifier } from '../model/notify.js';
import type { AtomicApi } from '../api/client.js';
import { NO_PROGRESS, type ProgressSink } from '../model/progress.js';
import type { SendMode } from '../model/report.js';
import { type UploadStageOptions } from '../upload/upload-stage.js';
import type { LoadedFlow } from './flow-source.js';
import { checkLimits, DEFAULTS } from '../model/limits.js';
import type { InvalidPolicy } from './split.js';
import type { RunResult } from './validate.js';
import { checkCampaignName } from '../campaign/campaign-store.js';
import {
  parseOncePer,
  parseRate,
  parseWindow,
  type Pace,
  type Window,
} from '../campaign/schedule.js';
import { AtomicBulkError } from '../model/errors.js';

/** What send --campaign was given, resolved. */
export interface CampaignOptions {
  name: string;
  keyColumns: string[];
  /** Seconds; null: forever. */
  oncePerSeconds: number | null;
  /** ATOMIC_BULK_CAMPAIGN_SECRET when set; else derived from the API credentials. */
  secret: string | undefined;
}

export const DEFAULT_CAMPAIGN_KEY = 'target.attributes.atomic___id';

export interface SendOptions {
  /** A path, `-`, an s3:// URI; several (or a directory, glob or prefix) are read as one campaign. */
  input: string | readonly string[];
  /** The flow config to validate against; fetched through `api` (latest) when omitted. */
  flow?: LoadedFlow;
  /** The flow to send to; required even when the config came from a file. */
  flowConfigId: string;
  /** live: csv-task (published flows, all users); test: csv-task/test (test users). */
  mode?: SendMode;
  /** The API; not called by a dry run. */
  api: AtomicApi | null;
  /** Part budget in bytes, header included. Default 32,000,000. */
  maxPartBytes?: number;
  /** Parts in flight, 1–5. Memory and disk hold about this many parts. Default 2. */
  concurrency?: number;
  /** abort (default): any error → nothing is sent (exit 1); skip: send the valid rows (exit 4). */
  onInvalid?: InvalidPolicy;
  /** Validate and cut parts, but never call csv-task. */
  dryRun?: boolean;
  /** Names the run; default: SHA-256 of the input. Invocation ids derive from it. */
  runId?: string;
  /** Where run state lives: a local folder or s3://bucket/prefix/. Default ./.atomic-bulk */
  stateDir?: string;
  /** S3 state: how long the run's lease lasts unless renewed (ms). Default 120 s. */
  leaseTtlMs?: number;
  /** S3 state: no lease (only where the scheduler runs one send at a time). */
  noLease?: boolean;
  /** Re-upload parts already recorded as uploaded (same invocation ids). */
  force?: boolean;
  reportDir?: string;
  /** Keep part files after upload (in the run's state directory). */
  keepParts?: boolean;
  maxIssues?: number;
  allowUnknownVariables?: boolean;
  s3Endpoint?: string;
  tempDir?: string;
  now?: () => Date;
  progress?: ProgressSink;
  /** Stops the run: no new parts; in-flight uploads get `graceMs` to finish. */
  signal?: AbortSignal;
  /** Time in-flight uploads may still take after an interrupt. Default 30 s. */
  graceMs?: number;
  /** Tuning for the upload stage (attempts, sleeps), mainly for tests. */
  upload?: Pick<UploadStageOptions, 'maxAttempts' | 'sleep' | 'random'>;
  /** Flags the suggested next commands repeat, as typed (see ValidateOptions). */
  nextStepFlags?: readonly string[];
  /** The send goes to the embedded sandbox, which stops with it. */
  sandbox?: boolean;
  /** Tells the send's end (--notify); its report records how that went. */
  notifier?: ReportNotifier;
  /** A recurring campaign (SPEC 8): each key sent once per `oncePer` across runs. */
  campaign?: {
    name: string;
    /** Columns that name a row within the campaign. Default: target.attributes.atomic___id. */
    keyColumns?: readonly string[];
    /** `forever` (default) or a duration: `6s`, `12h`, `30d`. */
    oncePer?: string;
    /** The ledger's secret (ATOMIC_BULK_CAMPAIGN_SECRET); default: derived from the credentials. */
    secret?: string;
  };
  /** Pace: rows entering Atomic per minute or hour, e.g. `20000/min`, `500000/h`. */
  rate?: string;
  /** Quiet hours: parts are requested only within `hours` (`HH:MM-HH:MM`) in `timeZone`. */
  window?: { hours: string; timeZone: string };
  /** How a paced send waits; a rehearsal's fast clock passes its own (with `now`). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface SendResult extends RunResult {
  /** Where the run's state lives: folder or s3:// prefix (null for dry runs and rejected input). */
  stateDir: string | null;
}

/** The defaults of `send`, shared with the CLI's flags. */
export const SEND_DEFAULTS = {
  mode: 'live',
  maxPartBytes: DEFAULTS.maxPartBytes,
  concurrency: DEFAULTS.concurrency,
  onInvalid: 'abort',
  stateDir: '.atomic-bulk',
  graceMs: DEFAULTS.graceMs,
  maxIssues: DEFAULTS.maxIssues,
  leaseTtlMs: DEFAULTS.leaseTtlMs,
} as const satisfies Partial<Record<keyof SendOptions, unknown>>;

/** SendOptions with every default applied and every limit checked. */
export interface ResolvedSendOptions extends Required<
  Pick<
    SendOptions,
    | 'flowConfigId'
    | 'mode'
    | 'maxPartBytes'
    | 'concurrency'
    | 'onInvalid'
    | 'dryRun'
    | 'stateDir'
    | 'force'
    | 'keepParts'
    | 'maxIssues'
    | 'allowUnknownVariables'
    | 'graceMs'
    | 'leaseTtlMs'
    | 'noLease'
    | 'now'
    | 'progress'
  >
> {
  input: SendOptions['input'];
  flow: LoadedFlow;
  api: AtomicApi | null;
  runId: string | undefined;
  reportDir: string | undefined;
  s3Endpoint: string | undefined;
  tempDir: string | undefined;
  signal: AbortSignal | undefined;
  upload: SendOptions['upload'];
  nextStepFlags: readonly string[];
  sandbox: boolean;
  notifier: ReportNotifier | undefined;
  /** For the report of a first pass that fails. */
  command: 'send';
  campaign: CampaignOptions | null;
  pace: Pace | null;
  window: Window | null;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Applies the defaults and checks the limits (USAGE errors), for the library and the CLI
 * alike — before `loadFlow` runs, so a bad option costs no API call.
 */
export async function resolveSendOptions(
  given: SendOptions,
  loadFlow: () => Promise<LoadedFlow>,
): Promise<ResolvedSendOptions> {
  checkLimits(given);
  const campaign = resolveCampaign(given.campaign, given.force);
  const pace = given.rate === undefined ? null : parseRate(given.rate);
  const window =
    given.window === undefined ? null : parseWindow(given.window.hours, given.window.timeZone);
  return {
    input: given.input,
    flow: await loadFlow(),
    flowConfigId: given.flowConfigId,
    api: given.api,
    mode: given.mode ?? SEND_DEFAULTS.mode,
    maxPartBytes: given.maxPartBytes ?? SEND_DEFAULTS.maxPartBytes,
    concurrency: given.concurrency ?? SEND_DEFAULTS.concurrency,
    onInvalid: given.onInvalid ?? SEND_DEFAULTS.onInvalid,
    dryRun: given.dryRun ?? false,
    runId: given.runId,
    stateDir: given.stateDir ?? SEND_DEFAULTS.stateDir,
    force: given.force ?? false,
    reportDir: given.reportDir,
    keepParts: given.keepParts ?? false,
    maxIssues: given.maxIssues ?? SEND_DEFAULTS.maxIssues,
    allowUnknownVariables: given.allowUnknownVariables ?? false,
    s3Endpoint: given.s3Endpoint,
    tempDir: given.tempDir,
    now: given.now ?? (() => new Date()),
    progress: given.progress ?? NO_PROGRESS,
    signal: given.signal,
    graceMs: given.graceMs ?? SEND_DEFAULTS.graceMs,
    leaseTtlMs: given.leaseTtlMs ?? SEND_DEFAULTS.leaseTtlMs,
    noLease: given.noLease ?? false,
    upload: given.upload,
    nextStepFlags: given.nextStepFlags ?? [],
    sandbox: given.sandbox ?? false,
    notifier: given.notifier,
    command: 'send',
    campaign,
    pace,
    window,
    sleep: given.sleep ?? sleep,
  };
}

function resolveCampaign(
  given: SendOptions['campaign'],
  force: boolean | undefined,
): CampaignOptions | null {
  if (given === undefined) return null;
  if (force === true)
    throw new AtomicBulkError('USAGE', '--force re-sends rows a campaign has recorded as sent.', {
      hint: 'In a campaign, forget the keys to send again (atomic-bulk campaign forget), or use --once-per.',
    });
  checkCampaignName(given.name);
  const keyColumns = [...(given.keyColumns ?? [DEFAULT_CAMPAIGN_KEY])];
  if (keyColumns.length === 0 || new Set(keyColumns).size !== keyColumns.length)
    throw new AtomicBulkError('USAGE', '--campaign-key names each key column once.');
  if (given.secret !== undefined && given.secret.length < 16)
    throw new AtomicBulkError(
      'CONFIG',
      'ATOMIC_BULK_CAMPAIGN_SECRET is shorter than 16 characters.',
      {
        hint: 'Use a long random secret (e.g. openssl rand -base64 32) and keep it with the client secret.',
      },
    );
  return {
    name: given.name,
    keyColumns,
    oncePerSeconds: parseOncePer(given.oncePer ?? 'forever'),
    secret: given.secret,
  };
}

/** Waits `ms`, or less when the signal aborts (the send then stops at its next step). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      done();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}
