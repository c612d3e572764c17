import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRunStore } from './run-store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'run-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalRunStore', () => {
  it('makes a private run folder and reads back what it wrote', async () => {
    const dir = join(root, 'run');
    const store = await LocalRunStore.open(dir);
    try {
      expect(await store.readManifest()).toBeNull();
      await store.writeManifest('{"version":2}');
      expect(await store.readManifest()).toBe('{"version":2}');
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'manifest.json'))).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('lets one send at a time hold a run: another live process’s lock is BUSY, a dead one’s is taken', async () => {
    const dir = join(root, 'run');
    await mkdir(dir, { recursive: true });
    // The lock of another process that is alive (this test's parent).
    await writeFile(join(dir, 'lock'), String(process.ppid));
    await expect(LocalRunStore.open(dir)).rejects.toMatchObject({ code: 'BUSY' });
    // A lock left by a process that is gone is stale.
    await writeFile(join(dir, 'lock'), '2147483646');
    const store = await LocalRunStore.open(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(String(process.pid));
    await store.close();
  });

  it('names an unwritable folder as a STATE error', async () => {
    await expect(LocalRunStore.open('/proc/no-such-run')).rejects.toMatchObject({ code: 'STATE' });
  });
});
