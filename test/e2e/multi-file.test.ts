/**
 * Several files as one campaign (SPEC 4): a directory, a glob and several paths give the
 * same run, rows and issues located as file:line in every output; a header that differs
 * is a located error; split cuts across the files; and run state on an S3 store without
 * conditional writes is refused with what to do, or used without a lease when asked.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { startTestS3 } from '../s3rver.js';
import { expectNoStack, readReport, runCli, sendArgs, tempDir, validateArgs } from './cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

function rows(from: number, to: number, eol = '\n'): string {
  let text = '';
  for (let i = from; i <= to; i++) text += `user-${i},Name ${i},${i}.5${eol}`;
  return text;
}

/** A Spark-style export: part files, a marker, a checksum file; one shard has a bad row. */
async function sparkExport(): Promise<string> {
  const dir = join(await tempDir(), 'export');
  await mkdir(dir);
  await writeFile(join(dir, 'part-00000.csv'), `${HEADER}\n${rows(1, 40)}`);
  await writeFile(join(dir, 'part-00001.csv.gz'), gzipSync(`${HEADER}\r\n${rows(41, 80, '\r\n')}`));
  await writeFile(join(dir, 'part-00002.csv'), `\ufeff${HEADER}\n${rows(81, 90)}user-x,X,"1\n2"\n`);
  await writeFile(join(dir, '_SUCCESS'), '');
  await writeFile(join(dir, '.part-00000.csv.crc'), 'crc');
  return dir;
}

describe('a directory, a glob or several paths as one campaign', () => {
  it('validates the files in order, locating issues as file:line in report, console and rejected.csv', async () => {
    const dir = await sparkExport();
    const out = join(dir, '..');
    const byDir = await runCli(validateArgs(dir, join(out, 'r1')));
    expect(byDir.code, byDir.stderr).toBe(1);
    expectNoStack(byDir);
    const bad = join(dir, 'part-00002.csv');
    expect(byDir.stderr).toContain(`${bad}:12 (payload.variables.amount): invalid-number`);
    const report = readReport(join(out, 'r1'));
    expect(report.input.files).toEqual(
      ['part-00000.csv', 'part-00001.csv.gz', 'part-00002.csv'].map((n) => join(dir, n)),
    );
    expect(report.rows).toMatchObject({ total: 91, valid: 90, invalid: 1 });
    expect(report.issues.map((i) => [i.code, i.file, i.line])).toEqual([
      ['invalid-number', bad, 12],
    ]);
    const rejected = (await readFile(join(out, 'r1', 'rejected.csv'), 'utf8')).split('\n');
    expect(rejected[1]).toBe(
      `user-x,X,"1\n2",${bad}:12,invalid-number (payload.variables.amount)`.split('\n')[0],
    );

    // A glob (quoted, so atomic-bulk expands it) and the paths named one by one.
    const byGlob = await runCli(validateArgs(join(dir, 'part-*'), join(out, 'r2')));
    const byPaths = await runCli([
      ...validateArgs(join(dir, 'part-00000.csv'), join(out, 'r3')),
      join(dir, 'part-00001.csv.gz'),
      join(dir, 'part-00002.csv'),
    ]);
    expect([byGlob.code, byPaths.code]).toEqual([1, 1]);
    for (const r of ['r2', 'r3']) {
      const other = readReport(join(out, r));
      expect(other.input.sha256).toBe(report.input.sha256);
      expect(other.issues).toEqual(report.issues);
    }
  });

  it('sends every row once, with invocations.csv as file:line; the joined file is the same run', async () => {
    const dir = await sparkExport();
    const out = join(dir, '..');
    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const sent = await runCli(
      sendArgs(dir, join(out, 's'), join(out, 'r'), [
        '--on-invalid',
        'skip',
        '--max-part-bytes',
        '900',
      ]),
      { env: sb.env },
    );
    expect(sent.code, sent.stderr).toBe(4);
    await sb.settle();
    expect(new Set(sb.invocations().map((i) => i.target.atomic___id)).size).toBe(90);
    expect(sb.invocations()).toHaveLength(90);
    const ids = (await readFile(join(out, 'r', 'invocations.csv'), 'utf8')).trim().split('\n');
    expect(ids).toHaveLength(91);
    expect(ids[1]).toMatch(new RegExp(`^${join(dir, 'part-00000.csv')}:2,`));
    expect(ids[41]).toMatch(new RegExp(`^${join(dir, 'part-00001.csv.gz')}:2,`));
    expect(ids[90]).toMatch(new RegExp(`^${join(dir, 'part-00002.csv')}:11,`));

    const joined = `\ufeff${HEADER}\n${rows(1, 40)}${rows(41, 80, '\r\n')}${rows(81, 90)}user-x,X,"1\n2"\n`;
    // The first shard's BOM would be kept; this export's first shard has none.
    await writeFile(join(out, 'joined.csv'), joined.slice(1));
    const one = await runCli(validateArgs(join(out, 'joined.csv'), join(out, 'rj')));
    expect(one.code).toBe(1);
    expect(readReport(join(out, 'rj')).input.sha256).toBe(readReport(join(out, 'r')).input.sha256);
  });

  it('suggests a send command that pastes back as the same arguments', async () => {
    const dir = await sparkExport();
    await writeFile(join(dir, 'part-00002.csv'), `${HEADER}\n${rows(81, 90)}`);
    const spaced = join(dir, '..', 'my export');
    await rename(dir, spaced);
    const run = await runCli([...validateArgs(join(spaced, 'part-*'), join(spaced, '..', 'r'))]);
    expect(run.code, run.stderr).toBe(0);
    const next = readReport(join(spaced, '..', 'r')).nextStep;
    expect(
      next.startsWith(`Send it with \`atomic-bulk send '${join(spaced, 'part-*')}' --flow `),
    ).toBe(true);
  });

  it('names the file of a header problem in report.md too', async () => {
    const dir = join(await tempDir(), 'export');
    await mkdir(dir);
    const header = `${HEADER},payload.variables.nope`;
    await writeFile(join(dir, 'part-0.csv'), `${header}\nuser-1,A,1,x\n`);
    await writeFile(join(dir, 'part-1.csv'), `${header}\nuser-2,B,2,y\n`);
    const run = await runCli(validateArgs(dir, join(dir, '..', 'r')));
    expect(run.code).toBe(1);
    const md = await readFile(join(dir, '..', 'r', 'report.md'), 'utf8');
    // The header-and-file problems table, not only the examples of the issues table.
    expect(md).toContain(`| ${join(dir, 'part-0.csv')}:1 | payload.variables.nope |`);
  });

  it('splits across the files', async () => {
    const dir = await sparkExport();
    const out = join(dir, '..');
    await writeFile(join(dir, 'part-00002.csv'), `${HEADER}\n${rows(81, 90)}`);
    const run = await runCli([
      'split',
      dir,
      '--out-dir',
      join(out, 'parts'),
      '--max-part-bytes',
      '1000',
      '--report-dir',
      join(out, 'r'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const parts = (await readdir(join(out, 'parts')))
      .filter((n) => /^part-\d+\.csv$/.test(n))
      .sort();
    let body = '';
    for (const p of parts) {
      const text = await readFile(join(out, 'parts', p), 'utf8');
      expect(text.startsWith(`${HEADER}\n`)).toBe(true);
      body += text.slice(HEADER.length + 1);
    }
    expect(body.replaceAll('\r\n', '\n')).toBe(rows(1, 90));
  });

  it.each([
    [
      'a file whose header differs',
      async (dir: string) => {
        await writeFile(
          join(dir, 'part-00003.csv'),
          `${HEADER},payload.variables.extra\nuser-z,Z,1,x\n`,
        );
        return [dir];
      },
      /Input .*part-00003\.csv:1 has a different header from .*part-00000\.csv: it has 4 columns, .* has 3\./,
    ],
    [
      'standard input with a file',
      (dir: string) => Promise.resolve(['-', join(dir, 'part-00000.csv')]),
      /Standard input \(-\) cannot be combined with other inputs\./,
    ],
    [
      'a file named twice',
      (dir: string) => Promise.resolve([dir, join(dir, 'part-00000.csv')]),
      /is named twice/,
    ],
    [
      'a glob that matches nothing',
      (dir: string) => Promise.resolve([join(dir, '*.parquet')]),
      /matches no files/,
    ],
  ])('%s is a clear error, exit 2', async (_name, make, message) => {
    const dir = await sparkExport();
    const inputs = await make(dir);
    const run = await runCli([
      ...validateArgs(inputs[0] as string, join(dir, '..', 'r')),
      ...inputs.slice(1),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expectNoStack(run);
  });
});

describe('run state on an S3 store without conditional writes', () => {
  it('is refused with what to do; --no-lease runs without one and says so', async () => {
    const store = await startTestS3();
    onTestFinished(() => store.stop());
    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    await writeFile(join(dir, 'in.csv'), `${HEADER}\n${rows(1, 20)}`);
    const env = {
      ...sb.env,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: store.endpoint,
    };
    const state = 's3://atomic-sandbox/state/';
    const refused = await runCli(sendArgs(join(dir, 'in.csv'), state, join(dir, 'r1')), { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/does not enforce conditional writes \(If-None-Match\)/);
    expect(refused.stderr).toMatch(/--no-lease/);
    expectNoStack(refused);
    await sb.settle();
    expect(sb.invocations()).toHaveLength(0);

    const unleased = await runCli(
      sendArgs(join(dir, 'in.csv'), state, join(dir, 'r2'), ['--no-lease']),
      { env },
    );
    expect(unleased.code, unleased.stderr).toBe(0);
    expect(unleased.stderr).toMatch(/Running without a lease/);
    // From another directory: the state on S3 says the run is done.
    const again = await runCli(
      sendArgs(join(dir, 'in.csv'), state, join(dir, 'r3'), ['--no-lease']),
      { env, cwd: await tempDir() },
    );
    expect(again.code).toBe(0);
    expect(readReport(join(dir, 'r3')).rows).toMatchObject({ sent: 0, alreadySent: 20 });
    await sb.settle();
    expect(sb.invocations()).toHaveLength(20);
  });
});
