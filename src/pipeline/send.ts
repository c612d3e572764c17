/**
 * `send`: validate → split (valid rows, each with a flowInvocationId) → for each part a
 * csv-task URL just before uploading it → upload → report. The input is read twice: the
 * first pass validates it and fixes the run id (the SHA-256 of its bytes, by default),
 * the second cuts the parts, which are uploaded while the next part is being cut, at
 * most `concurrency` at a time. Run state makes a re-run resume where it stopped.
 */
import { checkLimits } from './limits.js';
import { join, resolve } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { AtomicBulkError } from '../model/errors.js';
import { NO_PROGRESS } from '../model/progress.js';
import type { Outcome } from '../model/report.js';
import { openInput } from '../read/input.js';
import { describeDestination, RunState } from '../state/run-state.js';
import { DEFAULT_MAX_PART_BYTES, firstPass } from './check-input.js';
import type { LoadedFlow } from './flow-source.js';
import { loadFlowFromApi } from './load-flow.js';
import type { SendOptions, SendResult } from './send-options.js';
import { dryRun } from './send-parts.js';
import {
  alreadySentNextStep,
  finishReport,
  fromManifest,
  invalidNextStep,
  invocationFiles,
  partName,
  policyOutcome,
  sendNextStep,
  type Finish,
} from './send-report.js';
import { cutAndUpload } from './send-upload.js';

export type { SendOptions, SendResult } from './send-options.js';
export async function send(given: SendOptions): Promise<SendResult> {
  checkLimits(given);
  const flow =
    given.flow ??
    (given.api !== null ? await loadFlowFromApi(given.api, given.flowConfigId) : null);
  if (flow === null)
    throw new AtomicBulkError(
      'USAGE',
      'send needs a flow config (flow) or an API to fetch it from (api).',
    );
  const options: SendOptions & { flow: LoadedFlow } = { ...given, flow };
  const now = options.now ?? (() => new Date());
  const progress = options.progress ?? NO_PROGRESS;
  const started = now();
  const mode = options.mode ?? 'live';
  const maxPartBytes = options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  const policy = options.onInvalid ?? 'abort';
  if (options.dryRun !== true && options.api === null)
    throw new AtomicBulkError('USAGE', 'send needs an API connection unless --dry-run.');
  const input = await openInput(options.input, {
    tempDir: options.tempDir,
    s3Endpoint: options.s3Endpoint,
  });
  try {
    const { dir, log, checked, validated, rejected } = await firstPass(
      input,
      options,
      maxPartBytes,
      started,
      now,
      progress,
    );
    const runId = options.runId ?? checked.summary.sha256;
    const finish = (f: Finish) =>
      finishReport({
        ...f,
        options,
        checked,
        log,
        dir,
        input,
        runId,
        mode,
        started,
        validated,
        rejected,
        now,
      });
    const { result } = checked;
    if (
      result.fileErrors > 0 ||
      (log.errors > 0 && policy === 'abort') ||
      result.rows.valid === 0
    ) {
      return {
        ...(await finish({
          outcome: 'invalid',
          parts: [],
          split: validated,
          invocations: null,
          nextStep: invalidNextStep(checked, policy),
        })),
        stateDir: null,
      };
    }
    const given = options.stateDir ?? '.atomic-bulk';
    const remoteState = given.startsWith('s3://');
    const stateDir = remoteState ? given : resolve(given);
    if (options.dryRun === true) {
      // Kept dry-run parts are for a person to look at: on this machine.
      const local = remoteState ? resolve('.atomic-bulk') : stateDir;
      return await dryRun(options, checked, input, local, runId, mode, progress, finish);
    }
    const api = options.api as AtomicApi;
    const { state, legacyDir } = await RunState.open(
      stateDir,
      {
        runId,
        destination: api.destination,
        input: { source: input.name, sha256: checked.summary.sha256, bytes: checked.summary.bytes },
        flow: { flowConfigId: options.flowConfigId, version: options.flow.version, mode },
        split: { maxPartBytes, onInvalid: policy },
      },
      started,
      {
        s3Endpoint: options.s3Endpoint,
        ttlMs: options.leaseTtlMs,
        noLease: options.noLease,
        now,
        warn: (text) => progress({ type: 'message', level: 'warn', text }),
      },
    );
    try {
      if (!dir.isRemote) await state.noteReport(dir.localDir);
      // Parts left by a run that was killed are cut again if needed; never kept meanwhile.
      if (options.keepParts !== true) await state.removePartFiles();
      if (legacyDir !== null) {
        progress({
          type: 'message',
          level: 'warn',
          text: `State from atomic-bulk 0.1.0 for this run is in ${legacyDir}; it does not say where it was sent, so it is not used and every part is uploaded (rows keep their flowInvocationIds, so a destination that already has them does not send twice).`,
        });
      }
      const destination = () => ({
        ...api.destination,
        resumedFrom: state.resumed ? state.createdAt : null,
        sentInFullAt: state.sentInFullAt,
      });
      if (state.allUploaded && options.force !== true) {
        const when = state.sentInFullAt ?? state.createdAt;
        progress({
          type: 'message',
          level: 'info',
          text: `Nothing uploaded: run ${runId.slice(0, 16)}… was already sent in full on ${when} to ${describeDestination(api.destination)}.`,
        });
        return {
          ...(await finish({
            outcome: policyOutcome(checked),
            parts: state.parts.map((p) => fromManifest(p, null, true)),
            split: validated,
            invocations: invocationFiles(state),
            nextStep: alreadySentNextStep(runId, when),
            destination: destination(),
          })),
          stateDir: state.where,
        };
      }
      if (options.force === true) await state.resetAll();
      const run = await cutAndUpload(options, checked, input, state, runId, mode, progress).finally(
        // Parts never outlive the run: whether it succeeded, failed or was interrupted.
        () => (options.keepParts === true ? undefined : state.removePartFiles()),
      );
      const outcome: Outcome = run.interrupted
        ? 'interrupted'
        : run.failed
          ? 'failed'
          : policyOutcome(checked);
      const parts = state.parts.map((p) =>
        fromManifest(
          p,
          options.keepParts === true ? join(state.dir, 'parts', partName(p.number)) : null,
          p.status === 'uploaded' && !run.uploadedNow.has(p.number),
        ),
      );
      return {
        ...(await finish({
          outcome,
          parts,
          split: run.splitDone,
          invocations: invocationFiles(state),
          nextStep: sendNextStep(outcome, run.fatal, runId),
          destination: destination(),
        })),
        stateDir: state.where,
      };
    } finally {
      await state.close();
    }
  } finally {
    await input.close();
  }
}
