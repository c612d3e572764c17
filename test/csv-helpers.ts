/** Helpers shared by tests that feed CSV text through the reading stage. */
import { RecordReader, type ReadBatch, type ReadSummary } from '../src/read/record-reader.js';
import { RECORD_BLANK, RECORD_MALFORMED, RECORD_TOO_LARGE } from '../src/model/record-batch.js';

/**
 * Yields `bytes` cut at the given offsets, each chunk copied into one reused buffer that
 * is overwritten by the next chunk, the way the file reader works.
 */
export function* chunked(bytes: Buffer, cuts: number[] = []): Generator<Buffer> {
  const scratch = Buffer.alloc(bytes.length);
  let from = 0;
  const ends = [
    ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b),
    bytes.length,
  ];
  for (const end of ends) {
    if (end <= from) continue;
    const n = bytes.copy(scratch, 0, from, end);
    yield scratch.subarray(0, n);
    scratch.fill(0x3f, 0, n);
    from = end;
  }
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
