/**
 * A peer a user would otherwise reach for, doing a bare parse of the file into rows and
 * counting them: `csv-parse`, `papaparse` or `udsv`, each over a 1 MiB-buffered read
 * stream with UTF-8 decoded across chunk boundaries. Also the naive splitter
 * (csv-parse → csv-stringify), and the read limit: the file read and SHA-256-hashed, no
 * parse. Prints {"rows": n} (0 for the read limit).
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { StringDecoder } from 'node:string_decoder';

const [peer, path] = process.argv.slice(2) as [string, string];
const stream = () => createReadStream(path, { highWaterMark: 1 << 20 });
let rows = 0;

switch (peer) {
  case 'csv-parse': {
    const { parse } = await import('csv-parse');
    for await (const _record of stream().pipe(parse({ relax_column_count: true }))) rows++;
    break;
  }
  case 'roundtrip': {
    const { parse } = await import('csv-parse');
    const { stringify } = await import('csv-stringify');
    const { Writable } = await import('node:stream');
    const { pipeline } = await import('node:stream/promises');
    await pipeline(
      stream(),
      parse({ relax_column_count: true }),
      stringify(),
      new Writable({
        write(_chunk: Buffer, _encoding, done) {
          rows++;
          done();
        },
      }),
    );
    break;
  }
  case 'papaparse': {
    // papaparse is CommonJS; its types describe the module object, which ESM sees as default.
    const Papa = createRequire(import.meta.url)('papaparse') as typeof import('papaparse');
    const decoder = new StringDecoder('utf8');
    const parser = Papa.parse(Papa.NODE_STREAM_INPUT, {});
    await new Promise<void>((resolve, reject) => {
      parser.on('data', () => rows++);
      parser.on('end', resolve);
      parser.on('error', reject);
      const input = stream();
      input.on('data', (chunk) => {
        if (!parser.write(decoder.write(chunk))) {
          input.pause();
          parser.once('drain', () => input.resume());
        }
      });
      input.on('end', () => parser.end(decoder.end()));
    });
    break;
  }
  case 'udsv': {
    const { inferSchema, initParser } = await import('udsv');
    const decoder = new StringDecoder('utf8');
    let parser: ReturnType<typeof initParser> | null = null;
    const count = (): void => {
      rows++;
    };
    for await (const chunk of stream()) {
      const text = decoder.write(chunk as Buffer);
      parser ??= initParser(inferSchema(text));
      parser.chunk<string[]>(text, parser.stringArrs, count);
    }
    const rest = decoder.end();
    if (parser !== null) {
      if (rest !== '') parser.chunk<string[]>(rest, parser.stringArrs, count);
      parser.end();
    }
    // udsv takes the first row as the header; count it like the others.
    rows++;
    break;
  }
  case 'read-sha256': {
    // The read limit: what validate cannot avoid (reading the file and hashing it).
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256');
    for await (const chunk of stream()) hash.update(chunk as Buffer);
    hash.digest();
    break;
  }
  default:
    throw new Error(`unknown peer ${peer}`);
}
process.stdout.write(`${JSON.stringify({ rows })}\n`);
