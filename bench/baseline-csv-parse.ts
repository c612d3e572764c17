/** The baseline: bare csv-parse to arrays over a 1 MiB-buffered read stream. */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

const path = process.argv[2] as string;
const mode = process.argv[3] ?? 'parse';
let rows = 0;
if (mode === 'roundtrip') {
  // The naive splitter: parse every record and serialise it again.
  const { stringify } = await import('csv-stringify');
  const { Writable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    parse(),
    stringify(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        rows += chunk.length > 0 ? 1 : 0;
        done();
      },
    }),
  );
} else {
  for await (const _record of createReadStream(path, { highWaterMark: 1 << 20 }).pipe(parse()))
    rows++;
}
process.stdout.write(`${JSON.stringify({ rows })}\n`);
