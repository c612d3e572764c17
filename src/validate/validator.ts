/**
 * The validation stage. It consumes record batches from the reader and yields them again
 * with a status per record (header, blank, valid, invalid) and the data-record number,
 * reporting every issue to the log as it goes. Checks that need the whole file
 * (duplicate invocation ids and targets) are settled by `finish()`, which returns the
 * final set of invalid records.
 *
 * With no flow config it runs the structural checks only (encoding, quoting, field
 * count, record size, blank lines), which is what `split` needs.
 */
import type { LineMap } from '../model/line-map.js';
import {
  FIELD_ESCAPED,
  RECORD_BLANK,
  RECORD_MALFORMED,
  RECORD_TOO_LARGE,
  type RecordBatch,
  type RecordProblem,
} from '../model/record-batch.js';
import {
  CheckedArrays,
  ROW_BLANK,
  ROW_HEADER,
  ROW_INVALID,
  ROW_VALID,
  type CheckedBatch,
} from '../model/checked-batch.js';
import type { FlowConfig } from '../model/flow.js';
import { issue, ISSUE_CODES, type IssueCode, type IssueLocation } from '../model/issue.js';
import type { IssueLog } from '../model/issue-log.js';
import { RecordSet } from '../model/record-set.js';
import {
  COPY_LAYOUT,
  outputHeaderBytes,
  outputRowBytes,
  sendLayout,
  type RowLayout,
} from '../model/row-layout.js';
import type { EncodingProblem, ReadBatch, ReadSummary } from '../model/read-batch.js';
import { INVOCATION_ID_COLUMN, planColumns, type ColumnPlan } from './columns.js';
import { CardOptionGuess } from './card-option-guess.js';
import { DuplicateFinder } from './duplicate-finder.js';
import { rowIssueText } from './messages.js';
import { murmur128 } from '../model/murmur.js';
import { allEmpty, RowChecker } from './row-checker.js';

export interface ValidatorOptions {
  /** The flow to check against; null runs the structural checks only. */
  flow: FlowConfig | null;
  allowUnknownVariables: boolean;
  /** Part budget in bytes: a record that cannot fit in a part with the header is an error. */
  maxPartBytes: number;
  /** The send pipeline will add a flowInvocationId where missing; count those bytes too. */
  addsInvocationIds: boolean;
  /** "Now" for expires-in-past, in ms since the epoch. */
  nowMs: number;
  /** Memory for the duplicate finder before it spills to disk; see DuplicateFinder. */
  duplicateMemoryBytes?: number;
  tempDir?: string;
  /** For a multi-file input, where each file's lines begin: messages then name `file:line`. */
  lines?: LineMap;
  /** send --campaign: key columns, each row's key must not be empty (SPEC 8). */
  campaignKeys?: readonly string[];
}

export interface RowCounts {
  /** Data records (blank lines and the header excluded); total = valid + invalid. */
  total: number;
  valid: number;
  invalid: number;
  blank: number;
}

export interface ValidationResult {
  header: string[] | null;
  headerLine: number;
  plan: ColumnPlan | null;
  rows: RowCounts;
  /** Data-record numbers with at least one error. */
  invalid: RecordSet;
  /** Data-record numbers whose invocation id repeats an earlier row's. */
  duplicateIds: RecordSet;
  /** Errors that concern the file or header, which block sending whatever the policy. */
  fileErrors: number;
  /** Byte length of the header as it will be written to parts (with LF and any added column). */
  headerBytes: number;
  /** The smallest part budget that holds the header and any one row (with its added id). */
  smallestBudget: number;
}

/** An invalid row read again for rejected.csv. */
export interface RejectedRowReport {
  line: number;
  /** Parsed values without any trailing _line/_errors columns; null when too large to keep. */
  fields: string[] | null;
  /** Each error as `code (column)`. */
  errors: string[];
}

/** Bytes added to each row by the flowInvocationId the tool assigns: "," + 36-char UUID. */
export const ADDED_ID_BYTES = 37;
/** Widest header checked against a flow (SPEC is silent; docs/decisions.md). */
export const MAX_COLUMNS = 20_000;

export class Validator {
  private readonly options: ValidatorOptions;
  private readonly log: IssueLog;
  private header: string[] | null = null;
  private headerLine = 1;
  private headerBytes = 0;
  /** Whether a non-blank record has been seen (only the first may be a `sep=` line). */
  private pastFirstRecord = false;
  private separatorLine: string | null = null;
  private layout: RowLayout = COPY_LAYOUT;
  /** Longest row as it will be written (LF and added id included). */
  private longestRow = 0;
  /** Bytes of a header too large for the budget (it is not kept). */
  private oversizeHeader = 0;
  private plan: ColumnPlan | null = null;
  private checker: RowChecker | null = null;
  private cardOptionGuess: CardOptionGuess | null = null;
  private recordNo = 0;
  private blank = 0;
  private fileErrors = 0;
  private readonly invalid = new RecordSet();
  private readonly duplicateIds = new RecordSet();
  private readonly encodingQueue: EncodingProblem[] = [];
  private encodingHead = 0;
  private readonly ids: DuplicateFinder;
  private readonly targets: DuplicateFinder;
  private readonly hash = new Uint32Array(4);
  private readonly arrays = new CheckedArrays();
  // Per-row state for the issue callback.
  private rowLine = 0;
  private rowInvalid = false;
  /** While explaining rejected rows: the row's errors as `code (column)`; else null. */
  private explained: string[] | null = null;

  constructor(log: IssueLog, options: ValidatorOptions) {
    this.log = log;
    this.options = options;
    const finder = { memoryBytes: options.duplicateMemoryBytes, tempDir: options.tempDir };
    this.ids = new DuplicateFinder(finder);
    this.targets = new DuplicateFinder(finder);
  }

  /** Checks each batch and yields it with per-record statuses. */
  async *check(source: AsyncIterable<ReadBatch>): AsyncGenerator<CheckedBatch> {
    for await (const { records, encodingProblems } of source) {
      for (const p of encodingProblems) this.encodingQueue.push(p);
      const checked = this.checkBatch(records);
      if (this.encodingHead > 1024) {
        this.encodingQueue.splice(0, this.encodingHead);
        this.encodingHead = 0;
      }
      yield checked;
    }
  }

  /** Settles the whole-file checks and returns the verdict. Call after `check` is drained. */
  async finish(summary: ReadSummary, signal?: AbortSignal): Promise<ValidationResult> {
    try {
      this.cardOptionGuess?.refine();
      this.fileChecks(summary);
      for await (const d of this.ids.duplicates()) {
        signal?.throwIfAborted();
        this.duplicateIds.add(d.record);
        this.invalid.add(d.record);
        this.report(
          'duplicate-invocation-id',
          { line: d.line, record: d.record },
          this.columnOf(this.plan?.invocationId ?? -1),
          () => ({
            message: `flowInvocationId repeats the value of ${this.where(d.firstLine)}; each row needs its own id.`,
            hint: `Give one of ${this.where(d.firstLine, d.line)} another id, or leave the cell empty to have one assigned.`,
          }),
        );
      }
      for await (const d of this.targets.duplicates()) {
        signal?.throwIfAborted();
        this.report('duplicate-target', { line: d.line, record: d.record }, null, () => ({
          message: `The target columns have the same values as ${this.where(d.firstLine)}; the user will get the flow twice.`,
          hint: 'Remove one of the rows if that is not intended.',
        }));
      }
    } finally {
      await this.ids.close();
      await this.targets.close();
    }
    const total = this.recordNo;
    return {
      header: this.header,
      headerLine: this.headerLine,
      plan: this.plan,
      rows: {
        total,
        valid: total - this.invalid.size,
        invalid: this.invalid.size,
        blank: this.blank,
      },
      invalid: this.invalid,
      duplicateIds: this.duplicateIds,
      fileErrors: this.fileErrors,
      headerBytes: this.headerBytes,
      smallestBudget: Math.max(this.headerBytes, this.oversizeHeader) + this.longestRow,
    };
  }

  /**
   * For the explaining pass (validate/explainer.ts), which reads the input again: the
   * encoding faults of the next chunk, as the first pass queued them.
   */
  queueEncoding(problems: readonly EncodingProblem[], fresh = false): void {
    if (fresh) {
      this.encodingQueue.length = 0;
      this.encodingHead = 0;
    }
    for (const p of problems) this.encodingQueue.push(p);
    if (this.encodingHead > 1024) {
      this.encodingQueue.splice(0, this.encodingHead);
      this.encodingHead = 0;
    }
  }

  /** For the explaining pass: passes over a record that is not explained. */
  pass(b: RecordBatch, i: number, record: number): void {
    this.consumeEncoding(b, i, record, true);
  }

  /**
   * For the explaining pass: runs the row's checks again (they are pure functions of the
   * row) and returns its errors as `code (column)`, reporting nothing to the log.
   */
  errorsOf(b: RecordBatch, i: number, record: number, duplicateId: boolean): string[] {
    this.recordNo = record;
    const errors: string[] = [];
    this.explained = errors;
    try {
      this.checkRow(b, i, record);
    } finally {
      this.explained = null;
    }
    if (duplicateId) errors.push(`duplicate-invocation-id (${INVOCATION_ID_COLUMN})`);
    return errors;
  }

  /** Releases temporary files when the run stops early. */
  async abort(): Promise<void> {
    await this.ids.close();
    await this.targets.close();
  }

  private fileChecks(summary: ReadSummary): void {
    const file = { line: 1, record: 0 };
    if (summary.bom) {
      this.report('bom-stripped', file, null, () => ({
        message:
          'The file starts with a UTF-8 byte-order mark; it was removed and parts are written without it.',
        hint: 'Nothing to do. Some editors add it when saving as "CSV UTF-8".',
      }));
    }
    if (summary.foreignEncoding !== null) {
      const enc = summary.foreignEncoding;
      this.report('encoding-error', file, null, () => ({
        message: `The file is encoded as ${enc}; atomic-bulk reads UTF-8 only.`,
        hint: 'Save it again as "CSV UTF-8" (Excel) or convert it with: iconv -f UTF-16 -t UTF-8.',
      }));
      return;
    }
    if (this.header === null) {
      this.report('empty-file', file, null, () => ({
        message: summary.bytes === 0 ? 'The file is empty.' : 'The file holds only blank lines.',
        hint: 'Export the campaign again: a header row and one row per user.',
      }));
    } else if (this.recordNo === 0) {
      this.report('empty-file', { line: this.headerLine, record: 0 }, null, () => ({
        message: 'The file has a header but no data rows.',
        hint: 'Add one row per user below the header.',
      }));
    }
  }

  private checkBatch(b: RecordBatch): CheckedBatch {
    const { status, recordNo } = this.arrays.next(b.count);
    for (let i = 0; i < b.count; i++) {
      const flags = b.flags[i] as number;
      if ((flags & RECORD_BLANK) !== 0) {
        this.blank++;
        status[i] = ROW_BLANK;
        const line = b.line[i] as number;
        this.report('blank-row', { line, record: 0 }, null, () => ({
          message: 'Blank line skipped.',
          hint: 'Nothing to do, unless a row is missing here.',
        }));
        continue;
      }
      if (this.header === null) {
        if (!this.pastFirstRecord && b.separatorLine(i) !== null) {
          this.pastFirstRecord = true;
          this.separatorLine = b.separatorLine(i);
          status[i] = ROW_BLANK;
          const sep = this.separatorLine as string;
          this.report('separator-line', { line: b.line[i] as number, record: 0 }, null, () => ({
            message: `Line ${b.line[i] as number} is Excel's separator line (sep=${sep}); it was skipped and the next line read as the header.`,
            hint:
              sep === ','
                ? 'Nothing to do; export as "CSV UTF-8 (Comma delimited)" to leave it out.'
                : `It says the file is separated by "${sep === '\t' ? 'tab' : sep}", not commas: export it again as "CSV UTF-8 (Comma delimited)".`,
          }));
          continue;
        }
        this.pastFirstRecord = true;
        status[i] = ROW_HEADER;
        this.takeHeader(b, i);
        continue;
      }
      const record = ++this.recordNo;
      recordNo[i] = record;
      this.checkRow(b, i, record);
      status[i] = this.isRowInvalid() ? ROW_INVALID : ROW_VALID;
    }
    return { records: b, status, recordNo };
  }

  private takeHeader(b: RecordBatch, i: number): void {
    const line = b.line[i] as number;
    this.headerLine = line;
    const at = { line, record: 0 };
    this.rowLine = line;
    const flags = b.flags[i] as number;
    if ((flags & RECORD_TOO_LARGE) !== 0) {
      this.header = [];
      this.oversizeHeader = b.byteLength(i) + 1;
      const max = this.options.maxPartBytes;
      this.report('record-too-large', at, null, () => ({
        message: `The header is ${b.byteLength(i)} bytes, more than the part budget of ${max} bytes.`,
        hint: 'Check that the first line really is a header; a missing line break can merge it with the data.',
      }));
      this.consumeEncoding(b, i, 0, true);
      return;
    }
    const width = b.fieldCount[i] as number;
    if (width > MAX_COLUMNS && this.options.flow !== null) {
      // Planning a million columns would cost gigabytes for a file that cannot be sent.
      this.header = new Array<string>(width).fill('');
      this.report('too-many-columns', at, null, () => ({
        message: `The header has ${width.toLocaleString('en-US')} columns; atomic-bulk checks at most ${MAX_COLUMNS.toLocaleString('en-US')}.`,
        hint: 'Check that the first line really is the header and that the file is comma-separated; a campaign needs one column per target attribute, variable and card option.',
      }));
      this.consumeEncoding(b, i, 0, true);
      return;
    }
    this.header = b.fields(i);
    if ((flags & RECORD_MALFORMED) !== 0) this.reportQuoting(b.problems.get(i), at);
    this.consumeEncoding(b, i, 0, false);
    if (this.options.flow !== null)
      this.plan = planColumns(this.header, this.options.flow, {
        allowUnknownVariables: this.options.allowUnknownVariables,
        headerLine: line,
        separatorLine: this.separatorLine,
        campaignKeys: this.options.campaignKeys,
      });
    // Rows are sized exactly as the parts will hold them (splitter.ts), header included.
    this.layout = this.options.addsInvocationIds
      ? sendLayout(this.plan, this.header.length)
      : COPY_LAYOUT;
    this.headerBytes = outputHeaderBytes(b, i, this.layout);
    if (this.plan === null) return;
    for (const item of this.plan.issues) {
      if (item.severity === 'error') this.fileErrors++;
      this.log.add(item);
    }
    this.checker = new RowChecker(this.plan, this.options.nowMs);
    const guess = new CardOptionGuess(this.plan);
    if (guess.sampling) this.cardOptionGuess = guess;
  }

  private checkRow(b: RecordBatch, i: number, record: number): void {
    const line = b.line[i] as number;
    const at = { line, record };
    this.rowLine = line;
    this.rowInvalid = false;
    const flags = b.flags[i] as number;
    const width = (this.header as string[]).length;
    // With a header over the budget (not parsed), the budget named to the user must still
    // hold the longest row as it would be written.
    if (this.oversizeHeader > 0)
      this.longestRow = Math.max(this.longestRow, this.rawRowBytes(b, i));
    if ((flags & RECORD_TOO_LARGE) !== 0) {
      this.consumeEncoding(b, i, record, true);
      this.longestRow = Math.max(this.longestRow, this.rawRowBytes(b, i));
      this.reportTooLarge(b.byteLength(i), at);
      this.invalid.add(record);
      return;
    }
    this.consumeEncoding(b, i, record, false);
    const fields = b.fieldCount[i] as number;
    if ((flags & RECORD_MALFORMED) !== 0) this.reportQuoting(b.problems.get(i), at);
    if (fields !== width) {
      this.report('field-count', at, null, () => ({
        message: `The row has ${fields} fields; the header has ${width}.`,
        hint:
          fields > width
            ? 'A value probably contains a comma without being quoted; put it in double quotes.'
            : 'A field is missing, or a quoted value contains a line break that ends the row early.',
      }));
    }
    if (this.isRowInvalid() && (fields !== width || (flags & RECORD_MALFORMED) !== 0)) {
      this.invalid.add(record);
      return;
    }
    const plan = this.plan;
    const size = outputRowBytes(b, i, this.layout);
    this.longestRow = Math.max(this.longestRow, size);
    if (this.headerBytes + size > this.options.maxPartBytes) {
      this.reportTooLarge(b.byteLength(i), at);
    }
    if (this.explained === null && this.cardOptionGuess?.sampling === true)
      this.cardOptionGuess.sample(b, i);
    if (this.checker !== null && plan !== null) {
      this.checker.check(b, i, this.onRowIssue);
      if (this.explained === null) this.addKeys(b, i, plan, line, record);
    }
    if (this.isRowInvalid()) this.invalid.add(record);
  }

  /** Read through a method: the issue callbacks set it while checkRow runs. */
  /**
   * A row's size in a part when its fields are not known (too large to keep, or under a
   * header that was not parsed): its bytes and a line feed, and the id a send appends.
   */
  private rawRowBytes(b: RecordBatch, i: number): number {
    return b.byteLength(i) + 1 + (this.options.addsInvocationIds ? ADDED_ID_BYTES : 0);
  }

  private isRowInvalid(): boolean {
    return this.rowInvalid;
  }

  private readonly onRowIssue = (code: IssueCode, column: number, reason: string | null): void => {
    const at = { line: this.rowLine, record: this.recordNo };
    this.report(code, at, this.columnOf(column), () =>
      rowIssueText(code, column >= 0 ? (this.header?.[column] ?? '') : '', reason),
    );
  };

  private addKeys(b: RecordBatch, i: number, plan: ColumnPlan, line: number, record: number): void {
    const id = plan.invocationId;
    if (id >= 0 && !b.isEmpty(i, id)) {
      this.hashField(b, i, id);
      this.ids.add(this.hash, line, record);
    }
    const targets = plan.targets;
    if (targets.length === 0 || allEmpty(b, i, targets)) return;
    if (targets.length === 1) {
      this.hashField(b, i, targets[0] as number);
    } else {
      // Length-prefix each value so ("ab","c") and ("a","bc") differ.
      const parts: Buffer[] = [];
      for (const t of targets) {
        const value = b.fieldBytes(i, t);
        const len = Buffer.allocUnsafe(4);
        len.writeUInt32LE(value.length);
        parts.push(len, value);
      }
      const joined = Buffer.concat(parts);
      murmur128(joined, 0, joined.length, this.hash);
    }
    this.targets.add(this.hash, line, record);
  }

  /** Hashes the value of field f of record i, without copying unless it has `""` escapes. */
  private hashField(b: RecordBatch, i: number, f: number): void {
    const k = (b.fieldFirst[i] as number) + f;
    if (((b.fFlags[k] as number) & FIELD_ESCAPED) === 0) {
      murmur128(b.buf, b.fStart[k] as number, b.fEnd[k] as number, this.hash);
    } else {
      const value = b.fieldBytes(i, f);
      murmur128(value, 0, value.length, this.hash);
    }
  }

  /** Reports the encoding faults inside record i (one per column), and drops them from the queue. */
  private consumeEncoding(b: RecordBatch, i: number, record: number, tooLarge: boolean): void {
    const q = this.encodingQueue;
    const end = b.absEnd[i] as number;
    if (this.encodingHead >= q.length || (q[this.encodingHead] as EncodingProblem).offset >= end)
      return;
    const seen = new Set<number>();
    while (this.encodingHead < q.length && (q[this.encodingHead] as EncodingProblem).offset < end) {
      const problem = q[this.encodingHead++] as EncodingProblem;
      if (tooLarge) continue;
      const column = this.fieldAt(b, i, problem.offset);
      if (seen.has(column)) continue;
      seen.add(column);
      const nul = problem.kind === 'nul-byte';
      this.report(
        'encoding-error',
        { line: b.line[i] as number, record },
        this.columnOf(column),
        () => ({
          message: nul
            ? 'The cell contains a NUL byte, which does not belong in a text file.'
            : 'The cell contains bytes that are not valid UTF-8.',
          hint: nul
            ? 'The file may be binary, or UTF-16 without a byte-order mark; export it again as CSV UTF-8.'
            : 'The file was probably saved in another encoding (Windows-1252, Latin-1); export it again as CSV UTF-8.',
        }),
      );
    }
  }

  /** 0-based field of record i that contains absolute offset `offset`. */
  private fieldAt(b: RecordBatch, i: number, offset: number): number {
    const rel = offset - (b.absStart[i] as number) + (b.start[i] as number);
    const first = b.fieldFirst[i] as number;
    const n = b.fieldCount[i] as number;
    for (let f = 0; f < n - 1; f++) {
      if (rel < b.rawStart(first + f + 1)) return f;
    }
    return Math.max(0, n - 1);
  }

  /** `line 7` (or `lines 3 and 7`); `a.csv:7` (`a.csv:3 and b.csv:2`) for a multi-file input. */
  private where(line: number, other?: number): string {
    const map = this.options.lines;
    if (map === undefined || !map.multiFile)
      return other === undefined ? `line ${line}` : `lines ${line} and ${other}`;
    return other === undefined ? map.label(line) : `${map.label(line)} and ${map.label(other)}`;
  }

  private reportQuoting(problem: RecordProblem | undefined, at: IssueLocation): void {
    if (problem === undefined) return;
    const texts = {
      'unclosed-quote': {
        message: `A quoted field opened on ${this.where(problem.line)} is never closed; the rest of the file was read as part of it.`,
        hint: 'Close the quote, or double it ("") if it is part of the value.',
      },
      'stray-quote': {
        message: `A double quote appears inside an unquoted field on ${this.where(problem.line)}.`,
        hint: 'Put the whole value in double quotes and double the quote inside it: "say ""hi""".',
      },
      'text-after-quote': {
        message: `Text follows the closing quote of a field on ${this.where(problem.line)}.`,
        hint: 'Quote the whole value, and double any quote inside it.',
      },
    }[problem.kind];
    this.report('malformed-csv', at, this.columnOf(problem.field), () => texts);
  }

  private reportTooLarge(bytes: number, at: IssueLocation): void {
    const max = this.options.maxPartBytes;
    this.report('record-too-large', at, null, () => ({
      message: `The row is ${bytes} bytes; with the header it cannot fit in a part of ${max} bytes.`,
      hint: 'Shorten the row. An unclosed quote earlier in the row can also make it swallow following lines.',
    }));
  }

  private columnOf(index: number): { column: string | null; columnIndex: number | null } | null {
    if (index < 0 || this.header === null) return null;
    return { column: this.header[index] ?? null, columnIndex: index + 1 };
  }

  /** Counts the issue; builds its text only when the log will keep it. */
  private report(
    code: IssueCode,
    at: IssueLocation,
    column: { column: string | null; columnIndex: number | null } | null,
    text: () => { message: string; hint: string },
  ): void {
    const severity = ISSUE_CODES[code] as string;
    if (this.explained !== null) {
      // The explaining pass ends a row where the first pass did, so rejected.csv's _errors
      // list exactly the row's issues in the report (no cell checks on a broken row).
      if (severity === 'error') {
        this.explained.push(column?.column != null ? `${code} (${column.column})` : code);
        if (at.record !== 0) this.rowInvalid = true;
      }
      return;
    }
    if (severity === 'error') {
      if (at.record === 0) this.fileErrors++;
      else this.rowInvalid = true;
    }
    if (!this.log.wouldRetain(at.line)) {
      this.log.count(code);
      return;
    }
    const { message, hint } = text();
    this.log.add(issue(code, { ...at, ...(column ?? {}) }, message, hint));
  }
}
