/**
 * Input sources: a file read twice must be the same file; standard input is spooled on the
 * first pass (privately) and replayed; a directory or a missing path is an INPUT error.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isAtomicBulkError } from '../model/errors.js';
import { FileStart } from '../model/line-map.js';
import { openInput } from './input.js';

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'atomic-bulk-input-test-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function all(source: AsyncIterable<Buffer | FileStart>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) if (!(c instanceof FileStart)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('openInput', () => {
  it('reads a file twice, and refuses a second pass over a file that changed', async () => {
    const d = await dir();
    const path = join(d, 'in.csv');
    await writeFile(path, 'a,b\n1,2\n');
    const input = await openInput(path);
    expect((await all(input.read())).toString()).toBe('a,b\n1,2\n');
    expect((await all(input.read())).toString()).toBe('a,b\n1,2\n');
    await writeFile(path, 'a,b\n1,2\n3,4\n');
    const error = await failure(all(input.read()));
    expect(isAtomicBulkError(error) && error.code).toBe('INPUT');
    expect(error.message).toBe(`Input ${path} changed while atomic-bulk was reading it.`);
  });

  it('spools standard input privately on the first pass and replays it', async () => {
    const original = Object.getOwnPropertyDescriptor(process, 'stdin');
    const bytes = Buffer.from('x,y\n'.repeat(100_000));
    Object.defineProperty(process, 'stdin', { value: Readable.from([bytes]), configurable: true });
    onTestFinished(() => {
      if (original !== undefined) Object.defineProperty(process, 'stdin', original);
    });
    const temp = await dir();
    const input = await openInput('-', { tempDir: temp });
    expect((await all(input.read())).equals(bytes)).toBe(true);
    const { readdir } = await import('node:fs/promises');
    const [spool] = await readdir(temp);
    expect((await stat(join(temp, spool as string))).mode & 0o777).toBe(0o700);
    const [file] = await readdir(join(temp, spool as string));
    expect((await stat(join(temp, spool as string, file as string))).mode & 0o777).toBe(0o600);
    expect((await all(input.read())).equals(bytes)).toBe(true);
    await input.close();
    expect(await readdir(temp)).toEqual([]);
  });

  it('says an empty directory or a missing path is not an input', async () => {
    const d = await dir();
    const directory = await failure(openInput(d));
    expect(directory.message).toBe(`Input ${d} matches no files.`);
    const missing = await failure(openInput(join(d, 'nope.csv')));
    expect(isAtomicBulkError(missing) && missing.code).toBe('INPUT');
  });
});
