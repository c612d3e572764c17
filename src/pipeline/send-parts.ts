/**
 * Cutting a send's parts (the second read of the input, with the first pass's verdicts
 * and, in a campaign, the ledger's decisions), and the dry run, which cuts and measures
 * them without sending.
 */
import { retentionLimit } from '../model/row-layout.js';
import { makePrivateDir } from '../files/private-files.js';
import { join } from 'node:path';
import type { Part } from '../model/part.js';
import { cutEvent } from '../model/progress.js';
import type { PartReport } from '../model/report.js';
import { type InputSource } from '../read/input.js';
import { RecordReader } from '../read/record-reader.js';
import { partReport } from '../report/report.js';
import type { ReportDir } from '../report/report-dir.js';
import { InvocationIds } from '../split/invocation-ids.js';
import { DiscardedParts, PartFiles } from '../split/part-files.js';
import { selectRows } from '../split/select-rows.js';
import { Splitter, type PartSink } from '../split/splitter.js';
import { runKey } from '../state/run-state.js';
import { reading, type CheckedInput } from './check-input.js';
import type { RunResult } from './validate.js';
import type { ResolvedSendOptions, SendResult } from './send-options.js';
import type { SendCampaign } from './send-campaign.js';
import { layoutFor, policyOutcome, type Finish } from './send-report.js';

/** What cutting a run's parts reads: the run, where parts go, and its campaign if any. */
export interface CutContext {
  options: ResolvedSendOptions;
  checked: CheckedInput;
  input: InputSource;
  runId: string;
  /** The report folder (skipped.csv of a campaign run). */
  dir: ReportDir;
  campaign: SendCampaign | null;
}

/**
 * Pass 2: reads the input again and cuts the rows pass 1 found valid (and the campaign
 * did not skip) into parts written to `sink`, each row with its flowInvocationId. Fails
 * if the input changed meanwhile.
 */
export async function* cutParts(run: CutContext, sink: PartSink): AsyncGenerator<Part> {
  const { options, checked, input, campaign } = run;
  const { maxPartBytes, progress } = options;
  const reader = new RecordReader({
    maxRecordBytes: retentionLimit(maxPartBytes),
    restoreRejected: true,
    onBytes: reading('split', input, progress),
    lines: input.lines,
    verify: { summary: checked.summary, name: input.name },
  });
  const splitter = new Splitter({
    maxPartBytes,
    layout: layoutFor(checked),
    ids: campaign?.ids ?? new InvocationIds(run.runId, options.flowConfigId, options.mode),
    sink,
    ...(options.pace !== null ? { maxRows: options.pace.rows } : {}),
  });
  const { invalid, rows, header, plan } = checked.result;
  // The reader verifies every byte against the first pass before the splitter sees it.
  const selected = selectRows(reader.batches(input.read()), invalid, rows.total);
  if (campaign === null) {
    yield* splitter.split(selected);
    return;
  }
  const skipped = {
    dir: run.dir,
    header: (header ?? []).slice(0, plan?.annotationStart ?? header?.length ?? 0),
    lines: input.lines,
  };
  let ok = false;
  try {
    yield* splitter.split(campaign.select(selected, skipped));
    ok = true;
  } finally {
    await campaign.closeSkipped(run.dir, ok);
  }
}

/**
 * Dry run: everything but csv-task. Parts are cut and measured (rows, bytes, SHA-256)
 * without being written, unless --keep-parts asks for the files.
 */
export async function dryRun(
  run: CutContext,
  stateDir: string,
  finish: (f: Finish) => Promise<RunResult>,
): Promise<SendResult> {
  const { options, checked } = run;
  const { now, progress } = options;
  const keep = options.keepParts;
  let sink: PartSink = new DiscardedParts();
  if (keep) {
    const dir = join(
      stateDir,
      'dry-runs',
      `${runKey(run.runId, options.flowConfigId, options.mode, null)}-${now().getTime()}-${process.pid}`,
    );
    await makePrivateDir(dir);
    sink = new PartFiles(dir, true);
  }
  progress({ type: 'phase', phase: 'split' });
  const parts: PartReport[] = [];
  for await (const part of cutParts(run, sink)) {
    options.signal?.throwIfAborted();
    progress(cutEvent(part));
    parts.push(partReport(part, keep ? part.path : null));
  }
  const splitDone = now();
  const result = await finish({
    outcome: policyOutcome(checked),
    parts,
    split: splitDone,
    invocations: null,
    nextStep: keep
      ? `Dry run: nothing was sent. ${parts.length} parts of at most ${options.maxPartBytes} bytes were kept for you to look at; run without --dry-run to send.`
      : `Dry run: nothing was sent. The file would go out as ${parts.length} parts of at most ${options.maxPartBytes} bytes (measured, not kept); run without --dry-run to send.`,
  });
  return { ...result, stateDir: null };
}
