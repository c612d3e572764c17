import { createReadStream, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse';
import { generateCampaign } from '../../bench/generate-campaign.js';
import { readReport, runCli, tempDir } from './cli.js';

const SIZE_BYTES = 250_000_000;

interface Manifest {
  parts: { number: number; file: string; bytes: number; rows: number }[];
}

/** Parses files with csv-parse (independent of the tool's reader) and digests their rows. */
async function digestRows(
  files: string[],
  skipHeader: boolean,
): Promise<{ rows: number; digest: string; headers: string[] }> {
  const hash = createHash('sha256');
  let rows = 0;
  const headers: string[] = [];
  for (const file of files) {
    let first = true;
    for await (const record of createReadStream(file, { highWaterMark: 1 << 20 }).pipe(
      parse(),
    ) as AsyncIterable<string[]>) {
      if (first) {
        first = false;
        headers.push(JSON.stringify(record));
        if (skipHeader) continue;
      }
      hash.update(JSON.stringify(record));
      hash.update('\n');
      rows++;
    }
  }
  return { rows, digest: hash.digest('hex'), headers };
}

describe('splitting a multi-hundred-MB file with the default budget', () => {
  it('gives parts under 32,000,000 bytes whose rows, parsed independently, are the input rows in order', async () => {
    const dir = await tempDir();
    const input = join(dir, 'big.csv');
    const rows = await generateCampaign(input, SIZE_BYTES);
    const out = join(dir, 'parts');
    const run = await runCli(
      ['split', input, '--out-dir', out, '--report-dir', join(dir, 'report')],
      { timeoutMs: 300_000 },
    );
    expect(run.code).toBe(0);
    const report = readReport(join(dir, 'report'));
    expect(report.rows).toMatchObject({ total: rows, valid: rows });
    const manifest = JSON.parse(readFileSync(join(out, 'parts.json'), 'utf8')) as Manifest;
    expect(manifest.parts.length).toBeGreaterThanOrEqual(Math.ceil(SIZE_BYTES / 32_000_000));
    expect(manifest.parts.map((p) => p.number)).toEqual(manifest.parts.map((_, i) => i + 1));
    for (const p of manifest.parts) expect(p.bytes).toBeLessThanOrEqual(32_000_000);
    const source = await digestRows([input], true);
    const parts = await digestRows(
      manifest.parts.map((p) => join(out, p.file)),
      true,
    );
    expect(parts.rows).toBe(rows);
    expect(parts.rows).toBe(source.rows);
    expect(parts.digest).toBe(source.digest);
    expect(new Set(parts.headers)).toEqual(new Set(source.headers));
  }, 600_000);
});
