import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { csvField } from '../report/rejected-csv.js';
import { mulberry32 } from '../model/random.js';
import { invocationRecords, MalformedInvocations } from './invocations-reader.js';

async function file(text: string | Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'invocations-reader-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'invocations.csv');
  await writeFile(path, text);
  return path;
}

async function readAll(path: string): Promise<[string, string][]> {
  const all: [string, string][] = [];
  for await (const batch of invocationRecords(path)) all.push(...batch);
  return all;
}

async function failure(text: string): Promise<MalformedInvocations> {
  const error = await readAll(await file(text)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MalformedInvocations);
  return error as MalformedInvocations;
}

/** A file name with what CSV must quote, sometimes. */
function lineCell(random: () => number, k: number): string {
  const pick = random();
  if (pick < 0.7) return String(k + 2);
  const names = ['a,b.csv', 'say "hi".csv', 'two\nlines.csv', 'cr\r\nlf.csv', 'ünï.csv', '"', ''];
  return `${names[Math.floor(random() * names.length)] as string}:${k + 2}`;
}

describe('invocationRecords', () => {
  it('reads what the send writes exactly as a CSV parser does, across block boundaries', async () => {
    const random = mulberry32(7);
    const rows: [string, string][] = [['line', 'flowInvocationId']];
    // Long names push records across the 1 MiB read blocks at many offsets.
    for (let k = 0; k < 40_000; k++) {
      const long = random() < 0.01 ? `${'x'.repeat(Math.floor(random() * 3000))},` : '';
      rows.push([long + lineCell(random, k), `id-${k}-${Math.floor(random() * 1e9)}`]);
    }
    const text = rows.map(([a, b]) => `${csvField(a)},${csvField(b)}\n`).join('');
    expect(text.length).toBeGreaterThan(3 << 19);
    const read = await readAll(await file(text));
    expect(read).toEqual(parse(text, { bom: false }));
    expect(read).toEqual(rows);
  });

  it('takes a last record without its line end, and CRLF line ends', async () => {
    expect(await readAll(await file('line,flowInvocationId\n2,a\n3,"b"'))).toEqual([
      ['line', 'flowInvocationId'],
      ['2', 'a'],
      ['3', 'b'],
    ]);
    expect(await readAll(await file('line,flowInvocationId\r\n2,a\r\n'))).toEqual([
      ['line', 'flowInvocationId'],
      ['2', 'a'],
    ]);
    expect(await readAll(await file(''))).toEqual([]);
  });

  it('refuses what the send never writes, naming the record', async () => {
    expect((await failure('line,flowInvocationId\n2,a\n3\n')).record).toBe(3);
    expect((await failure('line,flowInvocationId\n2,a,b\n')).record).toBe(2);
    expect((await failure('line,flowInvocationId\n\n')).record).toBe(2);
    expect((await failure('line,flowInvocationId\n2,a"b\n')).record).toBe(2);
    expect((await failure('line,flowInvocationId\n"2"x,a\n')).record).toBe(2);
    expect((await failure('line,flowInvocationId\n2,"a\n')).record).toBe(2);
    expect((await failure('line,flowInvocationId\n2,a\r3,b\n')).record).toBe(2);
    expect((await failure(`line,flowInvocationId\n"${'y'.repeat(70_000)}",a\n`)).record).toBe(2);
    // One unterminated quoted field larger than a read block: refused, not read for ever.
    expect((await failure(`line,flowInvocationId\n"${'z'.repeat(3 << 20)}`)).record).toBe(2);
  });
});
