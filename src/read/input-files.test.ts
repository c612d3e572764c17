/**
 * Every entry of an input folder or glob is read or named (issue 22): links to files are
 * followed; links to anything else, and anything that is not a regular file, stop the run
 * with a message naming the entry.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { resolveInputs } from './input-files.js';

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-inputs-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('resolveInputs with links and special files', () => {
  it('follows a link to a file, in a folder and through a glob', async () => {
    const dir = await folder();
    const shards = join(dir, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'a.csv'), 'id\n1\n');
    await writeFile(join(dir, 'elsewhere.csv'), 'id\n2\n');
    await symlink(join(dir, 'elsewhere.csv'), join(shards, 'b.csv'));
    const expected = [join(shards, 'a.csv'), join(shards, 'b.csv')];
    expect((await resolveInputs([shards])).files).toEqual(expected);
    expect((await resolveInputs([join(shards, '*.csv')])).files).toEqual(expected);
  });

  it.each([
    ['a link to a folder', (d: string, at: string) => symlink(d, at), /is a link to a folder/],
    [
      'a dangling link',
      (d: string, at: string) => symlink(join(d, 'gone.csv'), at),
      /is a link that leads nowhere readable \(ENOENT\)/,
    ],
    [
      'a link loop',
      (_d: string, at: string) => symlink(at, at),
      /leads nowhere readable \(ELOOP\)/,
    ],
    [
      'a link to a FIFO',
      (d: string, at: string) => {
        execFileSync('mkfifo', [join(d, 'pipe')]);
        return symlink(join(d, 'pipe'), at);
      },
      /is a link to a named pipe \(FIFO\)/,
    ],
    [
      'a FIFO',
      (_d: string, at: string) => {
        execFileSync('mkfifo', [at]);
        return Promise.resolve();
      },
      /is a named pipe \(FIFO\)/,
    ],
  ])('names %s instead of skipping it', async (_kind, make, message) => {
    const dir = await folder();
    const shards = join(dir, 'shards');
    await mkdir(shards);
    await writeFile(join(shards, 'a.csv'), 'id\n1\n');
    await make(dir, join(shards, 'b.csv'));
    await expect(resolveInputs([shards])).rejects.toThrow(message);
    await expect(resolveInputs([join(shards, '*.csv')])).rejects.toThrow(message);
  });
});
