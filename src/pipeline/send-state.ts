/**
 * A send's run state: opened (or resumed) for the run's identity and destination, under
 * its lock or S3 lease, and tidied before the upload starts.
 */
import type { SendCampaign } from './send-campaign.js';
import { resolve } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import type { InputSource } from '../read/input.js';
import { RunState } from '../state/run-state.js';
import type { FirstPass } from './check-input.js';
import type { ResolvedSendOptions } from './send-options.js';
import type { finishReport, Finish } from './send-report.js';

/** What every step of a send after the first pass shares. */
export interface SendRun extends FirstPass {
  options: ResolvedSendOptions;
  input: InputSource;
  runId: string;
  started: Date;
  finish: (f: Finish) => ReturnType<typeof finishReport>;
  /** send --campaign: the campaign's ledger and this run's decisions. */
  campaign: SendCampaign | null;
}

export function openState(run: SendRun): ReturnType<typeof RunState.open> {
  const { options, checked } = run;
  const api = options.api as AtomicApi;
  const remote = options.stateDir.startsWith('s3://');
  return RunState.open(
    remote ? options.stateDir : resolve(options.stateDir),
    {
      runId: run.runId,
      destination: api.destination,
      input: {
        source: run.input.name,
        sha256: checked.summary.sha256,
        bytes: checked.summary.bytes,
      },
      flow: {
        flowConfigId: options.flowConfigId,
        version: options.flow.version,
        mode: options.mode,
      },
      split: { maxPartBytes: options.maxPartBytes, onInvalid: options.onInvalid },
    },
    run.started,
    {
      s3Endpoint: options.s3Endpoint,
      ttlMs: options.leaseTtlMs,
      noLease: options.noLease,
      now: options.now,
      sealer: api.sealer,
      warn: (text) => options.progress({ type: 'message', level: 'warn', text }),
    },
  );
}

export async function prepareState(
  run: SendRun,
  state: RunState,
  legacyDir: string | null,
): Promise<void> {
  if (!run.dir.isRemote) await state.noteReport(run.dir.localDir);
  // Parts left by a run that was killed are cut again if needed; never kept meanwhile.
  if (!run.options.keepParts) await state.removePartFiles();
  if (legacyDir !== null)
    run.options.progress({
      type: 'message',
      level: 'warn',
      text: `State from atomic-bulk 0.1.0 for this run is in ${legacyDir}; it does not say where it was sent, so it is not used and every part is uploaded (rows keep their flowInvocationIds, so a destination that already has them does not send twice).`,
    });
}

export function destinationOf(run: SendRun, state: RunState) {
  return {
    ...(run.options.api as AtomicApi).destination,
    resumedFrom: state.resumed ? state.createdAt : null,
    sentInFullAt: state.sentInFullAt,
  };
}
