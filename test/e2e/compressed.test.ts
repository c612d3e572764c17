/**
 * Compressed inputs (issue 15, part 1): gzip recognised by its bytes (whatever the file is
 * called), decompressed as it streams, the same run as the plain file; concatenated gzip
 * members (as split exports are joined) read as one file; truncated and corrupt streams,
 * and formats Node cannot read, are clear INPUT errors (exit 2).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { expectNoStack, readReport, runCli, sendArgs, tempDir, validateArgs } from './cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

function rows(from: number, to: number, eol = '\n'): string {
  let text = '';
  for (let i = from; i < to; i++) text += `user-${i},Name ${i},${i}.5${eol}`;
  return text;
}

describe('gzip input', () => {
  it('validates and sends a gzip file as the same run as the plain file, with the same line numbers', async () => {
    const dir = await tempDir();
    const plain = `${HEADER}\n${rows(0, 300)}user-x,Name,1,5\n${rows(300, 400)}`;
    await writeFile(join(dir, 'campaign.csv'), plain);
    // Two gzip members, as concatenated shards are; a name that says nothing.
    await writeFile(
      join(dir, 'campaign.data'),
      Buffer.concat([gzipSync(plain.slice(0, 5000)), gzipSync(plain.slice(5000))]),
    );
    const a = await runCli(validateArgs(join(dir, 'campaign.csv'), join(dir, 'ra')));
    const b = await runCli(validateArgs(join(dir, 'campaign.data'), join(dir, 'rb')));
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    const ra = readReport(join(dir, 'ra'));
    const rb = readReport(join(dir, 'rb'));
    expect(rb.input.sha256).toBe(ra.input.sha256);
    expect(rb.input.bytes).toBe(ra.input.bytes);
    expect(rb.runId).toBe(ra.runId);
    expect(rb.issues.map((i) => [i.code, i.line])).toEqual([['field-count', 302]]);
    expect(rb.issues).toEqual(ra.issues);

    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const sent = await runCli(
      sendArgs(join(dir, 'campaign.data'), join(dir, 's'), join(dir, 'r'), [
        '--on-invalid',
        'skip',
      ]),
      { env: sb.env },
    );
    expect(sent.code, sent.stderr).toBe(4);
    await sb.settle();
    expect(sb.stats().invocations).toBe(400);
    // Sending the plain file afterwards is the same run, already sent.
    const again = await runCli(
      sendArgs(join(dir, 'campaign.csv'), join(dir, 's'), join(dir, 'r2'), [
        '--on-invalid',
        'skip',
      ]),
      { env: sb.env },
    );
    expect(again.stdout).toContain('nothing uploaded');
  });

  it('reads CRLF and a byte-order mark inside the gzip stream, and gzip from standard input', async () => {
    const dir = await tempDir();
    const body = `\ufeff${HEADER}\r\n${rows(0, 50, '\r\n')}`;
    const run = await runCli(validateArgs('-', join(dir, 'r')), { stdin: gzipSync(body) });
    expect(run.code, run.stderr).toBe(0);
    const report = readReport(join(dir, 'r'));
    expect(report.rows.valid).toBe(50);
    expect(report.input).toMatchObject({ bom: true, lineEndings: 'CRLF' });
  });

  it('says where a truncated or corrupt gzip stream ends, with exit 2 and no stack', async () => {
    const dir = await tempDir();
    const whole = gzipSync(`${HEADER}\n${rows(0, 20_000)}`);
    await writeFile(join(dir, 'cut.csv.gz'), whole.subarray(0, Math.floor(whole.length / 2)));
    const cut = await runCli(validateArgs(join(dir, 'cut.csv.gz'), join(dir, 'r1')));
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(
      /is not a valid gzip stream: it ends early, after line \d+ \([\d,]+ bytes of CSV\)/,
    );
    expectNoStack(cut);
    const corrupt = Buffer.from(whole);
    corrupt.fill(0x55, 200, 260);
    await writeFile(join(dir, 'bad.gz'), corrupt);
    const bad = await runCli(validateArgs(join(dir, 'bad.gz'), join(dir, 'r2')));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a valid gzip stream: its data is corrupt');
    expectNoStack(bad);
  });

  it('refuses zstd, bzip2, xz and zip with what to do', async () => {
    const dir = await tempDir();
    for (const [name, magic] of [
      ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
      ['bzip2', [0x42, 0x5a, 0x68, 0x39]],
      ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
      ['zip', [0x50, 0x4b, 0x03, 0x04]],
    ] as const) {
      const path = join(dir, `in.${name}`);
      await writeFile(path, Buffer.concat([Buffer.from(magic), Buffer.alloc(64, 1)]));
      const run = await runCli(validateArgs(path, join(dir, `r-${name}`)));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`is compressed with ${name}, which atomic-bulk cannot read`);
    }
  });
});
