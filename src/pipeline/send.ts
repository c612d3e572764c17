/**
 * `send`: validate → split (valid rows, each with a flowInvocationId) → for each part a
 * csv-task URL just before uploading it → upload → report. The input is read twice: the
 * first pass validates it and fixes the run id (the SHA-256 of its bytes, by default),
 * the second cuts the parts, which are uploaded while the next part is being cut, at
 * most `concurrency` at a time. Run state makes a re-run resume where it stopped.
 *
 * This file is the table of contents; each step lives in the module that owns it.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { sweepOrphans } from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Outcome } from '../model/report.js';
import { EXIT_BY_ERROR } from '../model/outcome.js';
import { openInput } from '../read/input.js';
import { partFileName } from '../split/part-files.js';
import { describeDestination, type RunState } from '../state/run-state.js';
import { destinationOf, openState, prepareState, type SendRun } from './send-state.js';
import { firstPass, type FirstPass } from './check-input.js';
import type { LoadedFlow } from './flow-source.js';
import { loadFlowFromApi } from './load-flow.js';
import {
  resolveSendOptions,
  type ResolvedSendOptions,
  type SendOptions,
  type SendResult,
} from './send-options.js';
import { dryRun } from './send-parts.js';
import {
  alreadySentNextStep,
  finishReport,
  fromManifest,
  invocationFiles,
  policyOutcome,
  sendNextStep,
  type Finish,
} from './send-report.js';
import { cutAndUpload } from './send-upload.js';
import { SendCampaign } from './send-campaign.js';
import { Pacer } from './send-pace.js';
import { invalidNextStep } from '../report/next-steps.js';
import { nextStepContext } from './validate.js';

export type { SendOptions, SendResult } from './send-options.js';

export async function send(given: SendOptions): Promise<SendResult> {
  const options = await resolveSendOptions(given, () => flowOf(given));
  if (!options.dryRun && options.api === null)
    throw new AtomicBulkError('USAGE', 'send needs an API connection unless --dry-run.');
  refuseDraftLiveSend(options);
  Pacer.refuseOutside(options);
  // Temporary folders of killed sends (cut parts, spooled input) hold personal data.
  for (const dir of new Set([tmpdir(), options.tempDir ?? tmpdir()])) await sweepOrphans(dir);
  // A campaign's ledger is locked first: a second run of it stops at once (exit 3).
  const campaign =
    options.campaign === null ? null : await SendCampaign.open(options, options.campaign);
  try {
    return await sendInput(options, campaign);
  } finally {
    await campaign?.close();
  }
}

async function sendInput(
  options: ResolvedSendOptions,
  campaign: SendCampaign | null,
): Promise<SendResult> {
  const started = options.now();
  const input = await openInput(options.input, {
    tempDir: options.tempDir,
    s3Endpoint: options.s3Endpoint,
  });
  try {
    const first = await firstPass(
      input,
      {
        ...options,
        ...(campaign !== null
          ? { campaignKeys: options.campaign?.keyColumns, observe: campaign.observe }
          : {}),
      },
      started,
    );
    const run = sendRun({ options, input, started, campaign }, first);
    if (nothingToSend(run)) return await rejected(run);
    if (options.dryRun) {
      await campaign?.decide(run.runId, run.checked.result.invalid, false, run.started);
      return await rehearse(run);
    }
    return await sendParts(run).catch((error: unknown) => reportFailure(run, error));
  } finally {
    await input.close();
  }
}

/**
 * A live send (csv-task) needs a published flow; Atomic refuses a draft's csv-task, which
 * no retry fixes. The flow config fetched at the start already says so: exit 2 before any
 * work, with --test (which may send drafts to test users) as the way.
 */
function refuseDraftLiveSend(options: ResolvedSendOptions): void {
  if (options.mode !== 'live' || options.dryRun) return;
  if (options.flow.config.status !== 'draft') return;
  throw new AtomicBulkError(
    'USAGE',
    `Flow ${options.flowConfigId} is a draft: a live send needs a published flow.`,
    {
      hint: 'Publish it in the Workbench, or send to test users with --test (drafts may be tested).',
    },
  );
}

/** The flow config given, or the latest from the API. */
async function flowOf(given: SendOptions): Promise<LoadedFlow> {
  const flow =
    given.flow ??
    (given.api !== null ? await loadFlowFromApi(given.api, given.flowConfigId) : null);
  if (flow === null)
    throw new AtomicBulkError(
      'USAGE',
      'send needs a flow config (flow) or an API to fetch it from (api).',
    );
  return flow;
}

/** A send's run, once its first pass has named it: the run id and how its report is made. */
function sendRun(
  begun: Pick<SendRun, 'options' | 'input' | 'started' | 'campaign'>,
  first: FirstPass,
): SendRun {
  const { options, input, started, campaign } = begun;
  const runId = options.runId ?? first.checked.summary.sha256;
  const finish = (f: Finish) =>
    finishReport({
      ...f,
      ...first,
      options,
      input,
      runId,
      mode: options.mode,
      started,
      now: options.now,
      campaign: campaign?.report(f.pace ?? null, Pacer.windowOf(options.window)) ?? null,
    });
  return { ...first, options, input, runId, started, finish, campaign };
}

/** File errors, any invalid row under --on-invalid abort, or no valid row at all. */
function nothingToSend({ checked, log, options }: SendRun): boolean {
  const { result } = checked;
  return (
    result.fileErrors > 0 ||
    (log.errors > 0 && options.onInvalid === 'abort') ||
    result.rows.valid === 0
  );
}

async function rejected(run: SendRun): Promise<SendResult> {
  const report = await run.finish({
    outcome: 'invalid',
    parts: [],
    split: run.validated,
    invocations: null,
    nextStep: invalidNextStep(
      nextStepContext(run.options, run.input, run.dir),
      run.checked.result.rows,
      run.checked.result.fileErrors,
      run.options.onInvalid,
    ),
  });
  return { ...report, stateDir: null };
}

/**
 * A send that stopped on an error before it could report (another send holds the run,
 * the API or token endpoint cannot be reached, the run state is not believed) still
 * leaves a report.json in its folder saying what happened, then fails as before.
 */
async function reportFailure(run: SendRun, error: unknown): Promise<never> {
  if (error instanceof AtomicBulkError && error.code !== 'INTERRUPTED' && error.code !== 'REPORT')
    await run
      .finish({
        outcome: 'failed',
        parts: [],
        split: run.validated,
        invocations: null,
        nextStep: `${error.message}${error.context.hint ? ` ${error.context.hint}` : ''}`,
        exitCode: EXIT_BY_ERROR[error.code],
      })
      .catch(() => undefined);
  throw error;
}

/** A dry run; kept parts are for a person to look at, so they stay on this machine. */
function rehearse(run: SendRun): Promise<SendResult> {
  const { options } = run;
  const local = resolve(options.stateDir.startsWith('s3://') ? '.atomic-bulk' : options.stateDir);
  return dryRun(run, local, run.finish);
}

/** Opens the run's state (resuming it), then uploads what is left of it. */
async function sendParts(run: SendRun): Promise<SendResult> {
  const { state, legacyDir } = await openState(run);
  try {
    await prepareState(run, state, legacyDir);
    const { campaign } = run;
    if (campaign !== null) {
      // Within a campaign the ledger decides what is left: a run it does not know as
      // unfinished starts over (keys its earlier parts sent are skipped now).
      if (state.parts.length > 0 && !campaign.isOpen(run.runId)) await state.restart();
      await campaign.decide(run.runId, run.checked.result.invalid, true, run.started);
    } else if (state.allUploaded && !run.options.force) return await alreadySent(run, state);
    if (run.options.force) await state.resetAll();
    return await upload(run, state);
  } finally {
    await state.close();
  }
}

/** Every part was uploaded by an earlier send: nothing to do, and it says so. */
async function alreadySent(run: SendRun, state: RunState): Promise<SendResult> {
  const when = state.sentInFullAt ?? state.createdAt;
  const api = run.options.api as AtomicApi;
  run.options.progress({
    type: 'message',
    level: 'info',
    text: `Nothing uploaded: run ${run.runId.slice(0, 16)}… was already sent in full on ${when} to ${describeDestination(api.destination)}.`,
  });
  const report = await run.finish({
    outcome: policyOutcome(run.checked),
    parts: state.parts.map((p) => fromManifest(p, null, true)),
    split: run.validated,
    invocations: invocationFiles(state),
    nextStep: alreadySentNextStep(run.runId, when),
    destination: destinationOf(run, state),
  });
  return { ...report, stateDir: state.where };
}

/** --rate: the slots the rows left to send need, said once as the upload starts. */
function paceOf(run: SendRun, state: RunState): ReturnType<typeof Pacer.plan> {
  const { options } = run;
  const earlier = state.parts
    .filter((p) => p.status === 'uploaded')
    .reduce((n, p) => n + p.rows, 0);
  const rows = Math.max(0, run.checked.result.rows.valid - (run.campaign?.skipped ?? 0) - earlier);
  const pace = Pacer.plan(options.pace, rows, options.now());
  if (pace !== null)
    options.progress({
      type: 'message',
      level: 'info',
      text: `Pace ${pace.rows.toLocaleString('en-US')} rows per ${pace.slotMs === 60_000 ? 'minute' : 'hour'}: ${rows.toLocaleString('en-US')} rows in ${pace.slots} slots, the last due at ${pace.expectedEnd}.`,
    });
  return pace;
}

/** Cuts and uploads the parts not yet uploaded, then reports the run as it now stands. */
async function upload(run: SendRun, state: RunState): Promise<SendResult> {
  const { options } = run;
  const pace = paceOf(run, state);
  const result = await cutAndUpload(run, state).finally(
    // Parts never outlive the run: whether it succeeded, failed or was interrupted.
    () => (options.keepParts ? undefined : state.removePartFiles()),
  );
  const outcome: Outcome = result.interrupted
    ? 'interrupted'
    : result.failed
      ? 'failed'
      : policyOutcome(run.checked);
  if (run.campaign !== null && (outcome === 'success' || outcome === 'partial'))
    await run.campaign.finished(
      run.runId,
      run.started,
      state.parts.reduce((n, p) => n + p.rows, 0),
      outcome,
    );
  const parts = state.parts.map((p) =>
    fromManifest(
      p,
      options.keepParts ? join(state.dir, 'parts', partFileName(p.number)) : null,
      p.status === 'uploaded' && !result.uploadedNow.has(p.number),
    ),
  );
  const report = await run.finish({
    outcome,
    parts,
    split: result.splitDone,
    invocations: invocationFiles(state),
    nextStep:
      run.campaign !== null && state.parts.length === 0 && outcome === 'success'
        ? run.campaign.nothingLeftNextStep()
        : sendNextStep(
            nextStepContext(
              options,
              run.input,
              run.dir,
              (run.checked.result.plan?.invocationId ?? -1) >= 0,
            ),
            {
              outcome,
              fatal: result.fatal,
              runId: run.runId,
              invalid: run.checked.result.rows.invalid,
            },
          ),
    // A failed send exits as its error says: 3 when a retry can fix it (Atomic, a held
    // lease), 2 when it cannot (the input changed under it, the run state is not believed).
    ...(outcome === 'failed' && result.fatal !== null
      ? { exitCode: EXIT_BY_ERROR[result.fatal.code] }
      : {}),
    destination: destinationOf(run, state),
    pace,
  });
  return { ...report, stateDir: state.where };
}
