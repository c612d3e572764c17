/**
 * Temporary folders of killed processes (cut parts, spooled input: personal data) are
 * found and removed by the next run; nothing else is touched.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeOwnedTempDir, removeOwnedTempDir, sweepOrphans } from './private-files.js';

async function parent(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sweep-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A child process that makes an owned folder, says where, and waits to be killed. */
async function killedOwner(under: string): Promise<string> {
  const module = join(import.meta.dirname, '../../dist/files/private-files.js');
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(module)}); process.stdout.write(await m.makeOwnedTempDir('state', ${JSON.stringify(under)})); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const dir = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(d.toString())),
  );
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return dir;
}

describe('sweepOrphans', () => {
  it('removes the folder of a killed process and keeps the rest', async () => {
    const under = await parent();
    const orphan = await killedOwner(under);
    expect((await stat(orphan)).mode & 0o777).toBe(0o700);
    const live = await makeOwnedTempDir('input', under);
    const unmarked = join(under, 'atomic-bulk-state-unmarked');
    await mkdir(unmarked);
    const foreign = join(under, 'someone-else-state');
    await mkdir(foreign);
    expect(await sweepOrphans(under)).toBe(1);
    expect(existsSync(orphan)).toBe(false);
    for (const kept of [live, unmarked, foreign]) expect(existsSync(kept)).toBe(true);
    await removeOwnedTempDir(live);
    expect(existsSync(live)).toBe(false);
  });
});
