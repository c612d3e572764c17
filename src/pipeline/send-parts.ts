/**
 * Cutting a send's parts (the second read of the input, with the first pass's verdicts),
 * and the dry run, which cuts and measures them without sending.
 */
import { retentionLimit } from '../model/row-layout.js';
import { makePrivateDir } from '../files/private-files.js';
import { join } from 'node:path';
import type { Part } from '../model/part.js';
import { cutEvent, type ProgressSink } from '../model/progress.js';
import type { PartReport, SendMode } from '../model/report.js';
import { type InputSource } from '../read/input.js';
import { RecordReader } from '../read/record-reader.js';
import { partReport } from '../report/report.js';
import { InvocationIds } from '../split/invocation-ids.js';
import { DiscardedParts, PartFiles } from '../split/part-files.js';
import { selectRows } from '../split/select-rows.js';
import { Splitter, type PartSink } from '../split/splitter.js';
import { runKey } from '../state/run-state.js';
import { reading, type CheckedInput } from './check-input.js';
import type { RunResult } from './validate.js';
import type { ResolvedSendOptions, SendResult } from './send-options.js';
import { layoutFor, policyOutcome, type Finish } from './send-report.js';
export async function* cutParts(
  options: ResolvedSendOptions,
  checked: CheckedInput,
  input: InputSource,
  runId: string,
  mode: SendMode,
  sink: PartSink,
  progress: ProgressSink,
): AsyncGenerator<Part> {
  const { maxPartBytes } = options;
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
    ids: new InvocationIds(runId, options.flowConfigId, mode),
    sink,
  });
  const { invalid, rows } = checked.result;
  // The reader verifies every byte against the first pass before the splitter sees it.
  yield* splitter.split(selectRows(reader.batches(input.read()), invalid, rows.total));
}

/**
 * Dry run: everything but csv-task. Parts are cut and measured (rows, bytes, SHA-256)
 * without being written, unless --keep-parts asks for the files.
 */
export async function dryRun(
  options: ResolvedSendOptions,
  checked: CheckedInput,
  input: InputSource,
  stateDir: string,
  runId: string,
  mode: SendMode,
  progress: ProgressSink,
  finish: (f: Finish) => Promise<RunResult>,
): Promise<SendResult> {
  const { now } = options;
  const keep = options.keepParts;
  let sink: PartSink = new DiscardedParts();
  if (keep) {
    const dir = join(
      stateDir,
      'dry-runs',
      `${runKey(runId, options.flowConfigId, mode, null)}-${now().getTime()}-${process.pid}`,
    );
    await makePrivateDir(dir);
    sink = new PartFiles(dir, true);
  }
  progress({ type: 'phase', phase: 'split' });
  const parts: PartReport[] = [];
  for await (const part of cutParts(options, checked, input, runId, mode, sink, progress)) {
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
