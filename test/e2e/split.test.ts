import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { expectNoStack, readReport, runCli, SAMPLES, tempDir } from './cli.js';

interface Manifest {
  parts: {
    number: number;
    file: string;
    bytes: number;
    rows: number;
    firstLine: number;
    lastLine: number;
    sha256: string;
  }[];
}

async function splitFile(content: string, extra: string[] = []) {
  const dir = await tempDir();
  const input = join(dir, 'in.csv');
  await writeFile(input, content);
  const out = join(dir, 'parts');
  const reportDir = join(dir, 'report');
  const run = await runCli(['split', input, '--out-dir', out, '--report-dir', reportDir, ...extra]);
  return { run, out, reportDir };
}

describe('atomic-bulk split (built CLI)', () => {
  it('writes parts and a parts.json manifest that describe each part exactly', async () => {
    const dir = await tempDir();
    const out = join(dir, 'parts');
    const run = await runCli([
      'split',
      join(SAMPLES, 'campaign.csv'),
      '--out-dir',
      out,
      '--max-part-bytes',
      '5000',
      '--report-dir',
      join(dir, 'r'),
    ]);
    expect(run.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'parts.json'), 'utf8')) as Manifest;
    const header = readFileSync(join(SAMPLES, 'campaign.csv'), 'utf8').split('\n')[0] as string;
    let rows = 0;
    for (const [i, part] of manifest.parts.entries()) {
      const bytes = readFileSync(join(out, part.file));
      expect(part.number).toBe(i + 1);
      expect(bytes.length).toBe(part.bytes);
      expect(part.bytes).toBeLessThanOrEqual(5000);
      expect(bytes.toString().startsWith(`${header}\n`)).toBe(true);
      const { createHash } = await import('node:crypto');
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(part.sha256);
      rows += part.rows;
    }
    expect(rows).toBe(300);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const report = readReport(join(dir, 'r'));
    expect(report).toMatchObject({
      command: 'split',
      outcome: 'success',
      rows: { total: 300, valid: 300 },
    });
    expect(report.parts).toHaveLength(manifest.parts.length);
  });

  it('refuses an output directory that already holds parts', async () => {
    const { out } = await splitFile('a,b\n1,2\n');
    const again = await runCli(['split', join(SAMPLES, 'campaign.csv'), '--out-dir', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds parts/);
    expectNoStack(again);
  });

  it('keeps no parts when a record is broken (abort), and names it', async () => {
    const { run, out, reportDir } = await splitFile('a,b\n1,2\n3,"x\n', ['--max-part-bytes', '8']);
    expect(run.code).toBe(1);
    expect(readdirSync(out)).toEqual([]);
    const report = readReport(reportDir);
    expect(report.outcome).toBe('invalid');
    expect(report.issues.map((i) => [i.code, i.line])).toEqual([['malformed-csv', 3]]);
  });

  it('leaves broken records out with --on-invalid skip and exits 4', async () => {
    const { run, out, reportDir } = await splitFile('a,b\n1,2\n3\n4,5\n', ['--on-invalid', 'skip']);
    expect(run.code).toBe(4);
    expect(readFileSync(join(out, 'part-0001.csv'), 'utf8')).toBe('a,b\n1,2\n4,5\n');
    const report = readReport(reportDir);
    expect(report).toMatchObject({ outcome: 'partial', rows: { total: 3, valid: 2, invalid: 1 } });
    const rejected: string[][] = parse(readFileSync(join(reportDir, 'rejected.csv')), {
      relax_column_count: true,
    });
    expect(rejected).toEqual([
      ['a', 'b', '_line', '_errors'],
      ['3', '', '3', 'field-count'],
    ]);
  });

  it('reports an input without data rows as an error', async () => {
    const { run, reportDir } = await splitFile('a,b\n');
    expect(run.code).toBe(1);
    expect(readReport(reportDir).issues.map((i) => i.code)).toEqual(['empty-file']);
  });
});
