/**
 * Run state on its own: a run resumes with what was recorded, a live holder's lock is
 * respected and a dead one's taken over, and a damaged, foreign-version or old manifest is
 * a clear STATE error (or, for 0.1.0's, a named legacy directory), never a crash.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isAtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import { Sealer, sealJson } from '../model/seal.js';
import { parseManifest, RunState, runKey, type RunIdentity } from './run-state.js';

const IDENTITY: RunIdentity = {
  runId: 'run-1',
  destination: { apiOrigin: 'https://acme.customer-api.atomic.io', environmentId: 'env' },
  input: { source: 'in.csv', sha256: 'ab'.repeat(32), bytes: 1000 },
  flow: { flowConfigId: 'flow', version: 3, mode: 'live' },
  split: { maxPartBytes: 500, onInvalid: 'abort' },
};

function part(number: number): Part {
  return {
    number,
    path: `/nowhere/part-${number}.csv`,
    bytes: 400,
    rows: 10,
    sha256: String(number).repeat(64).slice(0, 64),
    firstLine: number * 10 - 8,
    lastLine: number * 10 + 1,
    firstRecord: number * 10 - 9,
    lastRecord: number * 10,
    idsPath: null,
    idsSha256: null,
  };
}

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-bulk-state-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** Run state sealed with one set of test credentials. */
const OPTIONS = { sealer: Sealer.fromCredentials('client', 'secret') };

const key = runKey('run-1', 'flow', 'live', IDENTITY.destination);

describe('RunState', () => {
  it('records parts privately and resumes them', async () => {
    const dir = await stateDir();
    const { state } = await RunState.open(dir, IDENTITY, new Date('2026-11-30T00:00:00Z'), OPTIONS);
    expect(state.resumed).toBe(false);
    await state.registerPart(part(1));
    await state.registerPart(part(2));
    await state.update(1, { status: 'uploaded', attempts: 1, taskId: 't1' });
    await state.markComplete(2);
    await state.close();
    const manifest = join(dir, 'runs', key, 'manifest.json');
    expect((await stat(manifest)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'runs', key))).mode & 0o777).toBe(0o700);

    const again = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    expect(again.state.resumed).toBe(true);
    expect(again.state.parts.map((p) => [p.number, p.status, p.taskId])).toEqual([
      [1, 'uploaded', 't1'],
      [2, 'pending', null],
    ]);
    expect(again.state.complete).toBe(true);
    expect(again.state.allUploaded).toBe(false);
    await again.state.update(2, { status: 'uploaded' });
    expect(again.state.sentInFullAt).not.toBeNull();
    await again.state.close();
  });

  it('refuses a part that differs from the one recorded, and a changed part count', async () => {
    const dir = await stateDir();
    const { state } = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    await state.registerPart(part(1));
    const changed = await failure(state.registerPart({ ...part(1), bytes: 401 }));
    expect(changed.message).toBe('Part 1 differs from the one recorded for this run.');
    const count = await failure(state.markComplete(3));
    expect(count.message).toContain('This run now has 3 parts; 1 were recorded.');
    await state.close();
  });

  it('respects a live holder’s lock and takes over a dead one’s', async () => {
    const dir = await stateDir();
    const first = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    await first.state.close();
    const lock = join(dir, 'runs', key, 'lock');
    // The test runner's parent is alive and is not this process.
    await writeFile(lock, String(process.ppid));
    const held = await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS));
    // BUSY (exit 3): running again later succeeds (docs/decisions.md).
    expect(isAtomicBulkError(held) && held.code).toBe('BUSY');
    expect(held.message).toBe(
      `Another atomic-bulk send (pid ${process.ppid}) is working on this run.`,
    );
    await writeFile(lock, '999999999');
    const taken = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid));
    await taken.state.close();
  });

  it('says what is damaged in a manifest, and names other versions', async () => {
    const dir = await stateDir();
    const { state } = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    await state.registerPart(part(1));
    await state.close();
    const path = join(dir, 'runs', key, 'manifest.json');
    const good = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      ['{"version": 2, "par', /is damaged: it is not JSON/],
      [{ ...good, parts: 'none' }, /is damaged: manifest\.parts is not a list/],
      [
        { ...good, input: { ...(good.input as object), bytes: '1000' } },
        /input\.bytes is not a number/,
      ],
      [
        { ...good, parts: [{ ...(good.parts as object[])[0], status: 'done' }] },
        /parts\[0\]\.status is not one of pending, uploading, uploaded, failed/,
      ],
      [
        { ...good, parts: [{ ...(good.parts as object[])[0], number: 2 }] },
        /parts\[0\]\.number is not 1/,
      ],
      [
        { ...good, flow: { ...(good.flow as object), mode: 'prod' } },
        /flow\.mode is not live or test/,
      ],
      [{ ...good, version: 2 }, /written by another version of atomic-bulk \(manifest version 2\)/],
      [{ ...good, version: undefined }, /manifest version none/],
    ];
    for (const [content, message] of cases) {
      // Sealed again, so each case reaches the field it damages.
      const text =
        typeof content === 'string'
          ? content
          : sealJson(OPTIONS.sealer, 'manifest', content as object);
      await writeFile(path, text);
      const error = await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS));
      expect(isAtomicBulkError(error) && error.code, String(message)).toBe('STATE');
      expect(error.message).toMatch(message);
    }
    const { seal: _seal, ...plain } = good;
    expect(() => parseManifest(plain, dir)).not.toThrow();
  });

  it('does not believe a manifest it did not seal: planted, edited, or sealed with other credentials', async () => {
    const dir = await stateDir();
    const { state } = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    await state.registerPart(part(1));
    await state.close();
    const path = join(dir, 'runs', key, 'manifest.json');
    const good = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const claimsSent = {
      ...good,
      complete: true,
      parts: [{ ...(good.parts as object[])[0], status: 'uploaded' }],
    };
    const other = Sealer.fromCredentials('client', 'another secret');
    for (const text of [
      JSON.stringify(claimsSent, null, 2),
      `${JSON.stringify({ ...claimsSent, seal: good.seal }, null, 2)}\n`,
      sealJson(other, 'manifest', claimsSent),
      sealJson(OPTIONS.sealer, 'report', claimsSent).replace('"seal"', '"seal"'),
    ]) {
      await writeFile(path, text);
      const error = await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS));
      expect(isAtomicBulkError(error) && error.code).toBe('STATE');
      expect(error.message).toMatch(/is not sealed with these credentials/);
    }
  });

  it('removes id files no uploaded part owns, and refuses an uploaded part whose id file was changed', async () => {
    const dir = await stateDir();
    const partsDir = join(dir, 'runs', key, 'parts');
    const { state } = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    const ids = '2,5d0f1c2e-0000-4000-8000-000000000001\n';
    await writeFile(join(partsDir, 'part-0001.ids.csv'), ids);
    const { createHash } = await import('node:crypto');
    await state.registerPart({
      ...part(1),
      idsSha256: createHash('sha256').update(ids).digest('hex'),
    });
    await state.update(1, { status: 'uploaded', attempts: 1 });
    await state.close();
    // Planted: an id file for a part the run never uploaded.
    await writeFile(join(partsDir, 'part-0002.ids.csv'), '2,planted-id-of-another-campaign\n');
    const again = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    await again.state.close();
    await expect(stat(join(partsDir, 'part-0002.ids.csv'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(partsDir, 'part-0001.ids.csv'), 'utf8')).toBe(ids);
    await writeFile(join(partsDir, 'part-0001.ids.csv'), '2,planted-id-of-another-campaign\n');
    const error = await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS));
    expect(error.message).toMatch(/The id file of part 1 .* is not the one this run wrote/);
    await rm(join(partsDir, 'part-0001.ids.csv'));
    expect((await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS))).message).toMatch(
      /The id file of part 1 .* is missing/,
    );
  });

  it('names a state directory written by 0.1.0 instead of using it', async () => {
    const dir = await stateDir();
    const legacy = join(dir, 'runs', runKey('run-1', 'flow', 'live', null));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, 'manifest.json'), JSON.stringify({ version: 1, parts: [] }));
    const opened = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    expect(opened.legacyDir).toBe(legacy);
    expect(opened.state.resumed).toBe(false);
    await opened.state.close();
  });

  it('refuses to resume with another input or settings, naming each difference', async () => {
    const dir = await stateDir();
    await (await RunState.open(dir, IDENTITY, new Date(), OPTIONS)).state.close();
    const error = await failure(
      RunState.open(
        dir,
        {
          ...IDENTITY,
          input: { ...IDENTITY.input, sha256: 'cd'.repeat(32) },
          split: { maxPartBytes: 600, onInvalid: 'skip' },
        },
        new Date(),
        OPTIONS,
      ),
    );
    expect(error.message).toBe(
      'Run run-1 was started with other settings: the input file is different; --max-part-bytes was 500; --on-invalid was abort.',
    );
  });

  it('keeps a run per destination: the same run id sent to another environment starts afresh', async () => {
    const dir = await stateDir();
    const first = (await RunState.open(dir, IDENTITY, new Date(), OPTIONS)).state;
    await first.close();
    const elsewhere = { ...IDENTITY.destination, environmentId: 'other-env' };
    expect(runKey('run-1', 'flow', 'live', elsewhere)).not.toBe(key);
    const other = await RunState.open(
      dir,
      { ...IDENTITY, destination: elsewhere },
      new Date(),
      OPTIONS,
    );
    expect(other.state.resumed).toBe(false);
    await other.state.close();
    const again = await RunState.open(dir, IDENTITY, new Date(), OPTIONS);
    expect(again.state.resumed).toBe(true);
    await again.state.close();
  });

  it('refuses a manifest, sealed and in place, that names another destination', async () => {
    const dir = await stateDir();
    await (await RunState.open(dir, IDENTITY, new Date(), OPTIONS)).state.close();
    // The manifest of this run's key, rewritten (and sealed again) to name another API.
    const path = join(dir, 'runs', key, 'manifest.json');
    const { seal: _seal, ...manifest } = JSON.parse(await readFile(path, 'utf8')) as Record<
      string,
      unknown
    >;
    const moved = {
      ...manifest,
      destination: { apiOrigin: 'https://evil.example', environmentId: 'env' },
    };
    await writeFile(path, sealJson(OPTIONS.sealer, 'manifest', moved));
    const error = await failure(RunState.open(dir, IDENTITY, new Date(), OPTIONS));
    expect(error.message).toMatch(/it belongs to https:\/\/evil.example, environment env/);
  });

  it('reads every timestamp from the clock it is given', async () => {
    const dir = await stateDir();
    let t = Date.parse('2031-01-01T00:00:00Z');
    const now = () => new Date((t += 1000));
    const { state } = await RunState.open(dir, IDENTITY, new Date('2031-01-01T00:00:00Z'), {
      ...OPTIONS,
      now,
    });
    await state.registerPart(part(1));
    await state.update(1, { status: 'uploaded', attempts: 1, taskId: 't1' });
    await state.markComplete(1);
    await state.close();
    const m = JSON.parse(await readFile(join(dir, 'runs', key, 'manifest.json'), 'utf8')) as {
      createdAt: string;
      updatedAt: string;
      sentInFullAt: string;
      parts: { updatedAt: string }[];
    };
    expect(m.createdAt).toBe('2031-01-01T00:00:00.000Z');
    for (const at of [m.updatedAt, m.sentInFullAt, m.parts[0]?.updatedAt])
      expect(at?.startsWith('2031-01-01T00:00:')).toBe(true);
  });
});
