/**
 * The checks of one data row that both passes run: size against the part budget, quoting,
 * field count, encoding faults, then every cell against the plan (row-checker.ts). They
 * are a pure function of the row and the header, so the explaining pass runs them again
 * for rejected.csv rather than remembering them; only the sink differs (issue-sink.ts).
 */
import type { IssueCode, IssueLocation } from '../model/issue.js';
import {
  RECORD_MALFORMED,
  RECORD_TOO_LARGE,
  type RecordBatch,
  type RecordProblem,
} from '../model/record-batch.js';
import { outputRowBytes } from '../model/row-layout.js';
import type { EncodingQueue } from './encoding-queue.js';
import { columnRef, type ColumnRef, type IssueSink, type Reporter } from './issue-sink.js';
import { rowIssueText } from './messages.js';
import { ADDED_ID_BYTES, type HeaderState, type ValidatorOptions } from './types.js';

export class RowIssues implements Reporter {
  /** After `check`: the row's size in a part (0 when it was not measured). */
  size = 0;
  /** After `check`: whether the row was checked cell by cell (its keys then count). */
  complete = false;
  sink: IssueSink;
  private at: IssueLocation = { line: 0, record: 0 };

  constructor(
    readonly head: HeaderState,
    private readonly options: ValidatorOptions,
    private readonly encoding: EncodingQueue,
    initialSink: IssueSink,
  ) {
    this.sink = initialSink;
  }

  readonly columnOf = (index: number): ColumnRef | null => columnRef(this.head.names, index);

  readonly where = (line: number, other?: number): string => this.head.where(line, other);

  /** Reports the row's issues to `sink`; the row ends where a broken row must. */
  check(b: RecordBatch, i: number, record: number, sink: IssueSink): void {
    this.sink = sink;
    sink.rowInvalid = false;
    const at = { line: b.line[i] as number, record };
    this.at = at;
    this.size = 0;
    this.complete = false;
    const flags = b.flags[i] as number;
    if ((flags & RECORD_TOO_LARGE) !== 0) {
      this.encoding.skip(b, i);
      this.size = this.rawRowBytes(b, i);
      reportTooLarge(this, b.byteLength(i), at, this.options.maxPartBytes);
      return;
    }
    this.encoding.take(b, i, record, this);
    const fields = b.fieldCount[i] as number;
    const width = this.head.names.length;
    if ((flags & RECORD_MALFORMED) !== 0) reportQuoting(this, b.problems.get(i), at);
    if (fields !== width) {
      sink.report('field-count', at, null, () => ({
        message: `The row has ${fields} fields; the header has ${width}.`,
        hint:
          fields > width
            ? 'A value probably contains a comma without being quoted; put it in double quotes.'
            : 'A field is missing, or a quoted value contains a line break that ends the row early.',
      }));
    }
    if (hasError(sink) && (fields !== width || (flags & RECORD_MALFORMED) !== 0)) return;
    this.size = outputRowBytes(b, i, this.head.layout);
    if (this.head.bytes + this.size > this.options.maxPartBytes)
      reportTooLarge(this, b.byteLength(i), at, this.options.maxPartBytes);
    this.complete = true;
    this.head.checker?.check(b, i, this.onCellIssue);
  }

  /**
   * A row's size in a part when its fields are not known (too large to keep, or under a
   * header that was not parsed): its bytes and a line feed, and the id a send appends.
   */
  rawRowBytes(b: RecordBatch, i: number): number {
    return b.byteLength(i) + 1 + (this.options.addsInvocationIds ? ADDED_ID_BYTES : 0);
  }

  private readonly onCellIssue = (code: IssueCode, column: number, reason: string | null) => {
    this.sink.report(code, this.at, this.columnOf(column), () =>
      rowIssueText(code, column >= 0 ? (this.head.names[column] ?? '') : '', reason),
    );
  };
}

/** Read through a call: the reports since the row began may have set it. */
function hasError(sink: IssueSink): boolean {
  return sink.rowInvalid;
}

/** A quoting fault of the header or a row, located to the line where the field began. */
export function reportQuoting(
  to: Reporter,
  problem: RecordProblem | undefined,
  at: IssueLocation,
): void {
  if (problem === undefined) return;
  const where = to.where(problem.line);
  const texts = {
    'unclosed-quote': {
      message: `A quoted field opened on ${where} is never closed; the rest of the file was read as part of it.`,
      hint: 'Close the quote, or double it ("") if it is part of the value.',
    },
    'stray-quote': {
      message: `A double quote appears inside an unquoted field on ${where}.`,
      hint: 'Put the whole value in double quotes and double the quote inside it: "say ""hi""".',
    },
    'text-after-quote': {
      message: `Text follows the closing quote of a field on ${where}.`,
      hint: 'Quote the whole value, and double any quote inside it.',
    },
  }[problem.kind];
  to.sink.report('malformed-csv', at, to.columnOf(problem.field), () => texts);
}

function reportTooLarge(to: Reporter, bytes: number, at: IssueLocation, max: number): void {
  to.sink.report('record-too-large', at, null, () => ({
    message: `The row is ${bytes} bytes; with the header it cannot fit in a part of ${max} bytes.`,
    hint: 'Shorten the row. An unclosed quote earlier in the row can also make it swallow following lines.',
  }));
}
