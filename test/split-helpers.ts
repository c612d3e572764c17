/** Runs reading, validation and splitting in memory, for split tests and properties. */
import { IssueLog } from '../src/model/issue-log.js';
import type { Part } from '../src/model/part.js';
import type { FlowConfig } from '../src/model/flow.js';
import { RecordReader } from '../src/read/record-reader.js';
import { retentionLimit } from '../src/model/row-layout.js';
import { InvocationIds } from '../src/split/invocation-ids.js';
import { COPY_LAYOUT, Splitter, type PartSink, type RowLayout } from '../src/split/splitter.js';
import { Validator } from '../src/validate/validator.js';
import { chunked } from './csv-helpers.js';

/** Keeps parts in memory: part number → bytes, and its id lines. */
export class MemorySink implements PartSink {
  readonly files = new Map<number, Buffer>();
  readonly ids = new Map<number, string>();
  readonly discarded: number[] = [];

  create(number: number) {
    const chunks: Buffer[] = [];
    const idChunks: Buffer[] = [];
    return Promise.resolve({
      write: (bytes: Uint8Array) => {
        chunks.push(Buffer.from(bytes));
        return Promise.resolve();
      },
      writeIds: (bytes: Uint8Array) => {
        idChunks.push(Buffer.from(bytes));
        return Promise.resolve();
      },
      close: () => {
        this.files.set(number, Buffer.concat(chunks));
        this.ids.set(number, Buffer.concat(idChunks).toString());
        return Promise.resolve({
          path: `mem:${number}`,
          idsPath: `mem:${number}.ids`,
          idsSha256: null,
        });
      },
      discard: () => {
        this.discarded.push(number);
        return Promise.resolve();
      },
    });
  }
}

export interface SplitRun {
  parts: Part[];
  sink: MemorySink;
  log: IssueLog;
}

export async function splitCsv(
  csv: string | Buffer,
  options: {
    maxPartBytes: number;
    cuts?: number[];
    flow?: FlowConfig | null;
    layout?: RowLayout;
    ids?: InvocationIds | null;
    /** Read a rejected.csv's neutralised cells back, and keep records as send does. */
    restoreRejected?: boolean;
  },
): Promise<SplitRun> {
  const log = new IssueLog(100);
  const sink = new MemorySink();
  const flow = options.flow ?? null;
  const layout = options.layout ?? COPY_LAYOUT;
  const validator = new Validator(log, {
    flow,
    allowUnknownVariables: false,
    maxPartBytes: options.maxPartBytes,
    addsInvocationIds: layout.append || layout.fillColumn >= 0,
    nowMs: 0,
  });
  const reader = new RecordReader({
    maxRecordBytes:
      options.restoreRejected === true
        ? retentionLimit(options.maxPartBytes)
        : options.maxPartBytes,
    restoreRejected: options.restoreRejected === true,
  });
  const splitter = new Splitter({
    maxPartBytes: options.maxPartBytes,
    layout,
    ids: options.ids ?? null,
    sink,
  });
  const bytes = typeof csv === 'string' ? Buffer.from(csv) : csv;
  const parts: Part[] = [];
  for await (const part of splitter.split(
    validator.check(reader.batches(chunked(bytes, options.cuts ?? []))),
  ))
    parts.push(part);
  await validator.finish(reader.summary());
  return { parts, sink, log };
}

export const testIds = () => new InvocationIds('run-1', 'flow-1', 'live');
