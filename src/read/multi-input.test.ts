/**
 * Multi-file inputs: however a campaign is cut into shards — gzip or plain, byte-order
 * marks, CRLF, a last line without newline, empty and header-only shards — reading the
 * shards gives the records, the run hash and the line numbers of the one file a careful
 * person would have made by joining them; every record maps back to its shard and the
 * shard's own line. A shard whose header differs, or that is UTF-16, is a located error.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import fc from 'fast-check';
import { isAtomicBulkError } from '../model/errors.js';
import { FileStart, LineMap } from '../model/line-map.js';
import type { RecordBatch } from '../model/record-batch.js';
import { globMatcher, naturalCompare } from './input-files.js';
import { openInput } from './input.js';
import { RecordReader } from './record-reader.js';

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'atomic-bulk-multi-test-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

interface Read {
  records: { line: number; fields: string[] }[];
  sha256: string;
}

async function readAll(
  source: AsyncIterable<Buffer | FileStart> | Iterable<Buffer>,
  lines?: LineMap,
): Promise<Read> {
  const reader = new RecordReader({ lines });
  const records: Read['records'] = [];
  for await (const { records: b } of reader.batches(source)) collect(b, records);
  return { records, sha256: reader.summary().sha256 };
}

function collect(b: RecordBatch, into: Read['records']): void {
  for (let i = 0; i < b.count; i++) {
    const fields: string[] = [];
    for (let k = 0; k < (b.fieldCount[i] as number); k++) fields.push(b.fieldText(i, k));
    into.push({ line: b.line[i] as number, fields });
  }
}

const HEADER = 'id,"note, quoted",n';

/** A row whose cells may hold quotes, commas and line breaks. */
const row = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9]{1,6}$/),
    fc.oneof(fc.constant(''), fc.stringMatching(/^[a-z ,"\n]{0,8}$/)),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(([id, note, n]) => `${id},"${note.replaceAll('"', '""')}",${n}`);

const shard = fc.record({
  rows: fc.array(row, { maxLength: 6 }),
  empty: fc.boolean(),
  bom: fc.boolean(),
  crlf: fc.boolean(),
  gzip: fc.boolean(),
  finalNewline: fc.boolean(),
});

describe('MultiInput', () => {
  it('reads shards as the joined file: same records, same hash, and every line back to its shard', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(shard, { minLength: 1, maxLength: 5 }), async (shards) => {
        const d = await mkdtemp(join(tmpdir(), 'atomic-bulk-multi-prop-'));
        try {
          const names: string[] = [];
          let joined = '';
          let joinedHeader = false;
          let owed = '\n';
          const expected: { file: string | null; line: number; fields: string[] }[] = [];
          for (const [k, s] of shards.entries()) {
            const name = join(d, `s-${k}.csv`);
            names.push(name);
            const eol = s.crlf ? '\r\n' : '\n';
            let text = '';
            if (!s.empty) {
              const body = [HEADER, ...s.rows].map((r) => r.replaceAll('\n', eol));
              text = (s.bom ? '\ufeff' : '') + body.join(eol) + (s.finalNewline ? eol : '');
              // What the joined file holds: the first file whole, later files without
              // byte-order mark and header; a file that does not end with a newline gets
              // one (CRLF when its header ended with CRLF).
              const headed = s.rows.length > 0 || s.finalNewline;
              if (joinedHeader && !/[\r\n]$/.test(joined)) joined += owed;
              joined += joinedHeader
                ? text.slice((s.bom ? 1 : 0) + HEADER.length + (headed ? eol.length : 0))
                : text;
              owed = headed ? eol : '\n';
              joinedHeader = true;
              let line = 2;
              for (const r of s.rows) {
                expected.push({
                  file: shards.length > 1 ? name : null, // one path is one file, not a multi-file input
                  line,
                  fields: parse(r.replaceAll('\n', eol)),
                });
                line += r.split('\n').length;
              }
            }
            await writeFile(name, s.gzip ? gzipSync(text) : text);
          }
          const input = await openInput(names);
          const lines = input.lines;
          const got = await readAll(input.read(), lines);
          const one = await readAll([Buffer.from(joined)]);
          await input.close();
          if (!joinedHeader) {
            expect(got.records).toEqual([]);
            return;
          }
          expect(got.sha256).toBe(one.sha256);
          expect(got.records).toEqual(one.records);
          expect(
            got.records.slice(1).map((r) => ({ ...lines.locate(r.line), fields: r.fields })),
          ).toEqual(expected);
        } finally {
          await rm(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ends a shard left inside quotes there: the next shard is read on its own', async () => {
    const d = await dir();
    await writeFile(join(d, 'a.csv'), 'id,x\n1,"open\n');
    await writeFile(join(d, 'b.csv'), 'id,x\n2,ok\n');
    const input = await openInput(d);
    const got = await readAll(input.read(), input.lines);
    expect(got.records.map((r) => [input.lines.label(r.line), r.fields])).toEqual([
      [`${join(d, 'a.csv')}:1`, ['id', 'x']],
      [`${join(d, 'a.csv')}:2`, ['1', 'open\n']],
      [`${join(d, 'b.csv')}:2`, ['2', 'ok']],
    ]);
    // Not the same run as the one file where the quote would run on into b.csv's row.
    const joined = await readAll([Buffer.from('id,x\n1,"open\n2,ok\n')]);
    expect(got.sha256).not.toBe(joined.sha256);
  });

  it('refuses a shard whose header differs, naming both files and the column, no cell values', async () => {
    const d = await dir();
    const header = 'target.attributes.atomic___id,payload.variables.name';
    await writeFile(join(d, 'part-1.csv'), `${header}\n1,a\n`);
    await writeFile(
      join(d, 'part-2.csv'),
      'target.attributes.atomic___id,payload.variables.nom\n2,b\n',
    );
    await writeFile(join(d, 'part-3.csv'), 'secret-id,Somebody\n');
    const error = await failure(openInput([join(d, 'part-1.csv'), join(d, 'part-2.csv')]));
    expect(isAtomicBulkError(error) && error.code).toBe('INPUT');
    expect(error.message).toBe(
      `Input ${join(d, 'part-2.csv')}:1 has a different header from ${join(d, 'part-1.csv')}: column 2 differs from ${join(d, 'part-1.csv')}'s "payload.variables.name".`,
    );
    const headerless = await failure(openInput([join(d, 'part-1.csv'), join(d, 'part-3.csv')]));
    expect(headerless.message).not.toMatch(/secret|Somebody/);
    // The first file without a header: its first line is a row, never quoted.
    const rowFirst = await failure(openInput([join(d, 'part-3.csv'), join(d, 'part-1.csv')]));
    expect(rowFirst.message).not.toMatch(/secret|Somebody/);
    expect(rowFirst.message).toContain('is one of the files without a header?');
    await writeFile(join(d, 'part-4.csv'), 'target.attributes.atomic___id\n3\n');
    const shorter = await failure(openInput([join(d, 'part-1.csv'), join(d, 'part-4.csv')]));
    expect(shorter.message).toContain(`it has 1 columns, ${join(d, 'part-1.csv')} has 2.`);
  });

  it('refuses a UTF-16 shard', async () => {
    const d = await dir();
    await writeFile(join(d, 'a.csv'), 'id\n1\n');
    await writeFile(
      join(d, 'b.csv'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id\n2\n', 'utf16le')]),
    );
    const error = await failure(openInput(d));
    expect(error.message).toBe(`Input ${join(d, 'b.csv')} is UTF-16, not UTF-8.`);
  });
});

describe('input files', () => {
  it('orders a directory by name with numbers compared as numbers, and leaves markers out', async () => {
    const d = await dir();
    for (const n of [
      'data_0_10_0.csv',
      'data_0_2_0.csv',
      'data_0_1_0.csv',
      '_SUCCESS',
      '.data_0_1_0.csv.crc',
    ])
      await writeFile(join(d, n), 'id\n1\n');
    const input = await openInput(d);
    expect(input.files).toEqual(
      ['data_0_1_0.csv', 'data_0_2_0.csv', 'data_0_10_0.csv'].map((n) => join(d, n)),
    );
    const glob = await openInput(join(d, 'data_0_?_0.csv'));
    expect(glob.files).toEqual(['data_0_1_0.csv', 'data_0_2_0.csv'].map((n) => join(d, n)));
    const none = await failure(openInput(join(d, '*.gz')));
    expect(none.message).toBe(`Input ${join(d, '*.gz')} matches no files.`);
    const twice = await failure(openInput([d, join(d, 'data_0_1_0.csv')]));
    expect(isAtomicBulkError(twice) && twice.code).toBe('USAGE');
  });

  it('compares names naturally and matches globs by the shell rules', () => {
    const names = ['b-10', 'b-9', 'a-000000000001.csv', 'a-000000000000.csv', 'b-09', 'B-1'];
    expect([...names].sort(naturalCompare)).toEqual([
      'B-1',
      'a-000000000000.csv',
      'a-000000000001.csv',
      'b-09',
      'b-9',
      'b-10',
    ]);
    const m = globMatcher('part-[0-4]*.csv.gz');
    expect(['part-0001.csv.gz', 'part-5.csv.gz', 'part-1.csv', '.part-1.csv.gz'].map(m)).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(globMatcher('[!a]?.csv')('b1.csv')).toBe(true);
    expect(globMatcher('a.c(s)v+')('a.c(s)v+')).toBe(true);
  });
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    const input = await promise;
    if (input !== null && typeof input === 'object' && 'read' in input) {
      const i = input as { read(): AsyncIterable<unknown>; close(): Promise<void> };
      try {
        for await (const _ of i.read());
      } finally {
        await i.close();
      }
    }
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** The fields of one generated row (quotes as written by `row`). */
function parse(r: string): string[] {
  const m = /^([^,]*),"((?:[^"]|"")*)",(\d+)$/s.exec(r);
  if (m === null) throw new Error(`unexpected row ${r}`);
  return [m[1] as string, (m[2] as string).replaceAll('""', '"'), m[3] as string];
}
