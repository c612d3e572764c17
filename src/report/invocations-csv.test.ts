import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ReportDir } from './report-dir.js';
import { writeInvocations } from './invocations-csv.js';

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'invocations-csv-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('writeInvocations', () => {
  it('copies the parts’ id files in order, as bytes, across read chunks', async () => {
    const dir = await folder();
    const ids: string[] = [];
    for (let k = 0; k < 60_000; k++) ids.push(`${k + 2},id-${k}-${'x'.repeat(k % 7)}`);
    // Three parts; the middle one over a 1 MiB read chunk, the last without its final line end.
    const texts = [
      `${ids.slice(0, 10).join('\n')}\n`,
      `${ids.slice(10, 59_990).join('\n')}\n`,
      ids.slice(59_990).join('\n'),
    ];
    expect(texts[1]!.length).toBeGreaterThan(1 << 20);
    const files = [];
    for (const [k, text] of texts.entries()) {
      const path = join(dir, `part-${k + 1}.ids.csv`);
      await writeFile(path, text);
      files.push({ part: k + 1, path, sha256: sha(text) });
    }
    const out = await ReportDir.open(join(dir, 'report'), new Date());
    const written = await writeInvocations(out, files);
    const text = await readFile(join(dir, 'report', 'invocations.csv'), 'utf8');
    expect(text).toBe(`line,flowInvocationId\n${ids.join('\n')}\n`);
    expect(written.rows).toBe(60_000);
    expect(written.sha256).toBe(sha(text));
  });

  it('drops empty lines and refuses an id file that is not the one recorded', async () => {
    const dir = await folder();
    const path = join(dir, 'part-1.ids.csv');
    const text = '\n2,a\n\n\n3,b\n\n';
    await writeFile(path, text);
    const out = await ReportDir.open(join(dir, 'report'), new Date());
    const written = await writeInvocations(out, [{ part: 1, path, sha256: sha(text) }]);
    expect(await readFile(join(dir, 'report', 'invocations.csv'), 'utf8')).toBe(
      'line,flowInvocationId\n2,a\n3,b\n',
    );
    expect(written.rows).toBe(2);
    const again = await ReportDir.open(join(dir, 'report2'), new Date());
    await expect(
      writeInvocations(again, [{ part: 1, path, sha256: sha('2,a\n') }]),
    ).rejects.toThrow(/id file of part 1/);
    // Refused without an uncaught write error, and no temporary file is left behind.
    expect((await readdir(join(dir, 'report2'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
