/**
 * What the sandbox does with an uploaded CSV, the way Atomic would: parse it (with
 * csv-parse, independently of the tool's own reader), apply the flow's variable rules,
 * and record one invocation per row. `flowInvocationId` is the idempotency key: the same
 * id with the same inputs creates nothing new; the same id with different inputs is a
 * conflict. Rows without an id each get a new one.
 */
import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse';
import { feed } from '../files/feed.js';
import type { FlowConfig } from '../model/flow.js';
import { MAX_ID_BYTES, type RecordOutcome, type SandboxInvocation } from './ledger.js';

export type { SandboxInvocation };

/** Records a row's invocation (ledger.ts) and makes its cards; returns both outcomes. */
export type RecordInvocation = (invocation: SandboxInvocation) => {
  outcome: RecordOutcome;
  cards: number;
};

export interface ProcessResult {
  rows: number;
  created: number;
  duplicates: number;
  conflicts: number;
  /** Cards made from the new invocations. */
  cards: number;
  errors: { line: number; message: string }[];
}

const PREFIXES = {
  'target.attributes.': 'target',
  'payload.variables.': 'variables',
  'payload.cardOptions.': 'cardOptions',
  'payload.metadata.': 'metadata',
  'payload.notificationDetail.': 'notificationDetail',
} as const;

type Section = (typeof PREFIXES)[keyof typeof PREFIXES];

/** Rows processed between two chances for the event loop to serve uploads. */
const SLICE_ROWS = 1000;

/**
 * Parses an uploaded file and records its rows. Every SLICE_ROWS rows it awaits `pause`,
 * which lets the sandbox put uploads first, as Atomic's ingestion is separate from its
 * processing.
 */
export async function processUpload(
  body: AsyncIterable<Uint8Array>,
  task: UploadTask,
  handling: {
    flow: FlowConfig;
    recordInvocation: RecordInvocation;
    /** Awaited every SLICE_ROWS rows. */
    pause?: () => Promise<void>;
  },
): Promise<ProcessResult> {
  const { flow, recordInvocation, pause = () => Promise.resolve() } = handling;
  const result: ProcessResult = {
    rows: 0,
    created: 0,
    duplicates: 0,
    conflicts: 0,
    cards: 0,
    errors: [],
  };
  const parser = parse({ bom: false, info: true, relax_column_count: false });
  let columns: Column[] | null = null;
  const error = (line: number, message: string) => {
    if (result.errors.length < 1000) result.errors.push({ line, message });
  };
  // The feed ends when the parser is destroyed too: processing that stops part-way (the
  // sandbox stopping) does not leave it waiting (files/feed.ts).
  const feeding = feed(body, parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      if (columns === null) {
        columns = headerColumns(record);
        continue;
      }
      result.rows++;
      if (result.rows % SLICE_ROWS === 0) await pause();
      const line = info.lines;
      const read = readRow({ record, line }, columns, task, flow);
      if (typeof read === 'string') {
        error(line, read);
        continue;
      }
      const { outcome, cards } = recordInvocation(read);
      if (outcome === 'created') {
        result.created++;
        result.cards += cards;
      } else if (outcome === 'duplicate') result.duplicates++;
      else {
        result.conflicts++;
        error(line, 'flowInvocationId was used before with different inputs (409 conflict)');
      }
    }
  } finally {
    if (!parser.writableEnded) parser.destroy();
    await feeding.catch(() => undefined);
  }
  return result;
}

type UploadTask = { taskId: string; flowId: string; mode: 'live' | 'test' };
type Column = { section: Section | 'id' | null; name: string };

function headerColumns(record: string[]): Column[] {
  const columns = record.map((header) => classify(header));
  const unknown = columns.find((c) => c.section === null);
  if (unknown !== undefined) throw new Error(`unknown column ${unknown.name}`);
  return columns;
}

/** One row as Atomic would take it, or why it would not. */
function readRow(
  row: { record: string[]; line: number },
  columns: Column[],
  task: UploadTask,
  flow: FlowConfig,
): SandboxInvocation | string {
  const invocation: SandboxInvocation = {
    flowInvocationId: '',
    generatedId: false,
    flowId: task.flowId,
    mode: task.mode,
    taskId: task.taskId,
    line: row.line,
    target: {},
    variables: {},
    cardOptions: {},
    metadata: {},
    notificationDetail: {},
  };
  let problem: string | null = null;
  row.record.forEach((value, i) => {
    const column = columns[i];
    if (column === undefined || value === '') return;
    if (column.section === 'id') invocation.flowInvocationId = value;
    else if (column.section === 'variables') {
      const typed = typedVariable(flow, column.name, value);
      if (typeof typed === 'object') problem ??= typed.error;
      else invocation.variables[column.name] = typed;
    } else if (column.section !== null) invocation[column.section][column.name] = value;
  });
  for (const variable of flow.variables.values()) {
    if (variable.required && !(variable.name in invocation.variables))
      problem ??= `required variable ${variable.name} is missing`;
  }
  if (Object.keys(invocation.target).length === 0) problem ??= 'no target';
  if (problem !== null) return problem;
  if (invocation.flowInvocationId === '') {
    invocation.flowInvocationId = randomUUID();
    invocation.generatedId = true;
  }
  if (
    Buffer.byteLength(invocation.flowInvocationId) > MAX_ID_BYTES ||
    Buffer.byteLength(invocation.target.atomic___id ?? '') > MAX_ID_BYTES
  )
    return `flowInvocationId or atomic___id is over ${MAX_ID_BYTES} bytes`;
  return invocation;
}

function classify(header: string): Column {
  if (header === 'flowInvocationId') return { section: 'id', name: header };
  for (const [prefix, section] of Object.entries(PREFIXES) as [string, Section][]) {
    if (header.startsWith(prefix) && header.length > prefix.length)
      return { section, name: header.slice(prefix.length) };
  }
  return { section: null, name: header };
}

/** Converts a variable cell per the flow's type (strictVariables), or says why it cannot. */
function typedVariable(
  flow: FlowConfig,
  name: string,
  value: string,
): string | number | boolean | { error: string } {
  const spec = flow.variables.get(name);
  if (spec === undefined) return { error: `unknown variable ${name}` };
  switch (spec.type) {
    case 'number': {
      const n = Number(value);
      return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value) && Number.isFinite(n)
        ? n
        : { error: `variable ${name} is not a number` };
    }
    case 'boolean':
      return value === 'true'
        ? true
        : value === 'false'
          ? false
          : { error: `variable ${name} is not a boolean` };
    case 'date':
      return Number.isNaN(Date.parse(value)) ? { error: `variable ${name} is not a date` } : value;
    case 'enum':
      return spec.values !== null && !spec.values.includes(value)
        ? { error: `variable ${name} is not one of its values` }
        : value;
    default:
      return value;
  }
}
