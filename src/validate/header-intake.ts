/**
 * The header record: Excel's `sep=` line before it, a header too large for the part
 * budget or too wide to plan, its quoting and encoding, and — with a flow — the column
 * plan (columns.ts) whose issues are the file's header issues. The result is everything
 * the row checks need to know about the header.
 */
import { RECORD_MALFORMED, RECORD_TOO_LARGE, type RecordBatch } from '../model/record-batch.js';
import { COPY_LAYOUT, outputHeaderBytes, sendLayout } from '../model/row-layout.js';
import { CardOptionGuess } from './card-option-guess.js';
import { planColumns } from './columns.js';
import type { EncodingQueue } from './encoding-queue.js';
import { columnRef, type LogSink } from './issue-sink.js';
import { reportQuoting } from './row-issues.js';
import { RowChecker } from './row-checker.js';
import { describeLines, MAX_COLUMNS, type HeaderState, type ValidatorOptions } from './types.js';

/** What taking the header needs from the validator. */
export interface HeaderIntake {
  options: ValidatorOptions;
  sink: LogSink;
  encoding: EncodingQueue;
  /** The separator an Excel `sep=` line before the header named, if there was one. */
  separatorLine: string | null;
}

export function takeHeader(b: RecordBatch, i: number, intake: HeaderIntake): HeaderState {
  const { options, sink } = intake;
  const line = b.line[i] as number;
  const at = { line, record: 0 };
  const where = (l: number, other?: number) => describeLines(options.lines, l, other);
  const head: HeaderState = {
    names: [],
    line,
    bytes: 0,
    oversize: 0,
    plan: null,
    layout: COPY_LAYOUT,
    checker: null,
    guess: null,
    where,
  };
  const flags = b.flags[i] as number;
  if ((flags & RECORD_TOO_LARGE) !== 0) {
    head.oversize = b.byteLength(i) + 1;
    sink.report('record-too-large', at, null, () => ({
      message: `The header is ${b.byteLength(i)} bytes, more than the part budget of ${options.maxPartBytes} bytes.`,
      hint: 'Check that the first line really is a header; a missing line break can merge it with the data.',
    }));
    intake.encoding.skip(b, i);
    return head;
  }
  const width = b.fieldCount[i] as number;
  if (width > MAX_COLUMNS && options.flow !== null) {
    // Planning a million columns would cost gigabytes for a file that cannot be sent.
    head.names = new Array<string>(width).fill('');
    sink.report('too-many-columns', at, null, () => ({
      message: `The header has ${width.toLocaleString('en-US')} columns; atomic-bulk checks at most ${MAX_COLUMNS.toLocaleString('en-US')}.`,
      hint: 'Check that the first line really is the header and that the file is comma-separated; a campaign needs one column per target attribute, variable and card option.',
    }));
    intake.encoding.skip(b, i);
    return head;
  }
  head.names = b.fields(i);
  const reporter = { sink, where, columnOf: (k: number) => columnRef(head.names, k) };
  if ((flags & RECORD_MALFORMED) !== 0) reportQuoting(reporter, b.problems.get(i), at);
  intake.encoding.take(b, i, 0, reporter);
  planHeader(head, intake);
  // Rows are sized exactly as the parts will hold them (splitter.ts), header included.
  head.layout = options.addsInvocationIds ? sendLayout(head.plan, head.names.length) : COPY_LAYOUT;
  head.bytes = outputHeaderBytes(b, i, head.layout);
  return head;
}

/** With a flow: the column plan, its issues, and the checks rows will get. */
function planHeader(head: HeaderState, { options, sink, separatorLine }: HeaderIntake): void {
  if (options.flow === null) return;
  const plan = planColumns(head.names, options.flow, {
    allowUnknownVariables: options.allowUnknownVariables,
    headerLine: head.line,
    separatorLine,
    campaignKeys: options.campaignKeys,
  });
  head.plan = plan;
  for (const item of plan.issues) sink.add(item);
  head.checker = new RowChecker(plan, options.nowMs);
  const guess = new CardOptionGuess(plan);
  if (guess.sampling) head.guess = guess;
}

/** Reports Excel's `sep=X` line; the next record is read as the header. */
export function reportSeparatorLine(b: RecordBatch, i: number, sep: string, sink: LogSink): void {
  const line = b.line[i] as number;
  sink.report('separator-line', { line, record: 0 }, null, () => ({
    message: `Line ${line} is Excel's separator line (sep=${sep}); it was skipped and the next line read as the header.`,
    hint:
      sep === ','
        ? 'Nothing to do; export as "CSV UTF-8 (Comma delimited)" to leave it out.'
        : `It says the file is separated by "${sep === '\t' ? 'tab' : sep}", not commas: export it again as "CSV UTF-8 (Comma delimited)".`,
  }));
}
