/**
 * The second pass of a send: reads the input again and marks each record with the
 * verdict of the first pass (the set of invalid record numbers), without re-validating.
 * It checks that it sees exactly the records the first pass counted.
 */
import {
  CheckedArrays,
  ROW_BLANK,
  ROW_HEADER,
  ROW_INVALID,
  ROW_VALID,
  type CheckedBatch,
} from '../model/checked-batch.js';
import { AtomicBulkError } from '../model/errors.js';
import { RECORD_BLANK } from '../model/record-batch.js';
import type { RecordSet } from '../model/record-set.js';
import type { ReadBatch } from '../model/read-batch.js';

export async function* selectRows(
  source: AsyncIterable<ReadBatch>,
  invalid: RecordSet,
  expectedRecords: number,
): AsyncGenerator<CheckedBatch> {
  let record = 0;
  let headerSeen = false;
  let firstRecord = true;
  const arrays = new CheckedArrays();
  for await (const { records: b } of source) {
    const { status, recordNo } = arrays.next(b.count);
    for (let i = 0; i < b.count; i++) {
      if (((b.flags[i] as number) & RECORD_BLANK) !== 0) {
        status[i] = ROW_BLANK;
      } else if (firstRecord && b.separatorLine(i) !== null) {
        // Excel's `sep=X` line: skipped, as validation did.
        firstRecord = false;
        status[i] = ROW_BLANK;
      } else if (!headerSeen) {
        firstRecord = false;
        headerSeen = true;
        status[i] = ROW_HEADER;
      } else {
        record++;
        recordNo[i] = record;
        status[i] = invalid.has(record) ? ROW_INVALID : ROW_VALID;
      }
    }
    yield { records: b, status, recordNo };
  }
  if (record !== expectedRecords) {
    throw new AtomicBulkError(
      'INPUT',
      `The input changed while it was being sent: ${record} rows now, ${expectedRecords} when validated.`,
      {
        hint: 'Wait until the file is completely written, then run again; parts already sent will be skipped.',
      },
    );
  }
}
