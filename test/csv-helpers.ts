/** Helpers shared by tests that feed CSV text through the reading stage. */
import { RecordReader, type ReadBatch, type ReadSummary } from '../src/read/record-reader.js';
import { RECORD_BLANK, RECORD_MALFORMED, RECORD_TOO_LARGE } from '../src/model/record-batch.js';

/** Yields `bytes` cut at the given offsets, as a file stream would. */
export function* chunked(bytes: Buffer, cuts: number[] = []): Generator<Buffer> {
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield bytes.subarray(from, cut);
    from = cut;
  }
  if (from < bytes.length) yield bytes.subarray(from);
}

export interface PlainRecord {
  line: number;
  endLine: number;
  fields: string[] | null;
  blank: boolean;
  tooLarge: boolean;
  problem: string | null;
}

/** Reads the whole input and flattens the batches into plain objects for comparison. */
export async function readAll(
  bytes: Buffer | string,
  cuts: number[] = [],
  maxRecordBytes?: number,
): Promise<{ records: PlainRecord[]; summary: ReadSummary; encoding: number[] }> {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const reader = new RecordReader({ maxRecordBytes });
  const records: PlainRecord[] = [];
  const encoding: number[] = [];
  for await (const { records: b, encodingProblems } of reader.batches(chunked(buf, cuts))) {
    encoding.push(...encodingProblems.map((p) => p.offset));
    collect(b, records);
  }
  return { records, summary: reader.summary(), encoding };
}

function collect(b: ReadBatch['records'], out: PlainRecord[]): void {
  for (let i = 0; i < b.count; i++) {
    const flags = b.flags[i] ?? 0;
    const problem = b.problems.get(i);
    out.push({
      line: b.line[i] ?? 0,
      endLine: b.endLine[i] ?? 0,
      fields: flags & RECORD_TOO_LARGE ? null : b.fields(i),
      blank: (flags & RECORD_BLANK) !== 0,
      tooLarge: (flags & RECORD_TOO_LARGE) !== 0,
      problem: flags & RECORD_MALFORMED && problem ? `${problem.kind}@${problem.line}` : null,
    });
  }
}
