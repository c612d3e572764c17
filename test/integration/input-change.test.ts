/**
 * No byte is uploaded that was not validated (issue 22): the input is rewritten in place
 * between the validating and the sending pass — same size, mtime put back, as an export
 * job rewriting a file while a scheduled send reads it — as one file and as one shard of
 * several. The send stops before any changed byte is cut into a part; the parts in flight
 * finish and are reported; the report and invocations.csv count exactly what Atomic got.
 */
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient, createSandbox, send, type Report } from 'atomic-bulk';
import { readReport, tempDir } from '../e2e/cli.js';

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName';
/** Rows of one length, so rewriting a row keeps the file's size. */
const row = (k: number, name: string) =>
  `customer-${String(k % 50).padStart(2, '0')},${name}${String(k).padStart(7, '0')}`;

/** ~6 MiB of rows: several checkpoints (1 MiB apart) and several 1 MB parts. */
function campaign(rows: number, name: string): string {
  const lines = [HEADER];
  for (let k = 1; k <= rows; k++) lines.push(row(k, name));
  return `${lines.join('\n')}\n`;
}

/** Rewrites the rows from `fromByte` on with other values, keeping size and mtime. */
function rewriteInPlace(path: string, fromByte: number): void {
  const before = statSync(path);
  const text = readFileSync(path, 'latin1');
  const start = text.indexOf('\n', fromByte) + 1;
  const changed = text.slice(0, start) + text.slice(start).replaceAll(',Orig', ',Edit');
  writeFileSync(path, changed, 'latin1');
  utimesSync(path, before.atime, before.mtime);
  expect(statSync(path).size).toBe(before.size);
}

describe('an input rewritten between the two passes of a send', () => {
  it.each(['one file', 'a shard of several'])(
    'stops before a changed byte is used: %s',
    async (kind) => {
      const sandbox = await createSandbox({ processQuietMs: 50 });
      onTestFinished(() => sandbox.stop());
      const dir = await tempDir();
      const rows = 200_000;
      let input: string;
      let victim: string;
      if (kind === 'one file') {
        input = join(dir, 'campaign.csv');
        victim = input;
        await writeFile(input, campaign(rows, 'Orig'));
      } else {
        input = join(dir, 'shards');
        await mkdir(input);
        const all = campaign(rows, 'Orig').split('\n').slice(1, -1);
        const cut = Math.floor((all.length * 2) / 3);
        // The first shard is the one being read when the first part is accepted.
        victim = join(input, 'part-1.csv');
        await writeFile(victim, `${HEADER}\n${all.slice(0, cut).join('\n')}\n`);
        await writeFile(join(input, 'part-2.csv'), `${HEADER}\n${all.slice(cut).join('\n')}\n`);
      }
      const size = statSync(victim).size;
      let rewritten = false;
      const { report }: { report: Report } = await send({
        input: kind === 'one file' ? input : [input],
        flowConfigId: 'renewal-reminder',
        api: new AtomicClient(sandbox.connection),
        maxPartBytes: 1_000_000,
        stateDir: join(dir, 'state'),
        reportDir: join(dir, 'report'),
        progress: (event) => {
          // The first accepted part: the second pass is under way; the last 40 % changes.
          if (event.type === 'part' && event.status === 'uploaded' && !rewritten) {
            rewritten = true;
            rewriteInPlace(victim, Math.floor(size * 0.6));
          }
        },
      });
      expect(rewritten).toBe(true);
      expect(report.outcome).toBe('failed');
      expect(report.exitCode).toBe(2);
      expect(report.nextStep).toMatch(
        /changed (since it was validated|while atomic-bulk was reading it)/,
      );
      expect(report.rows.sent).toBeGreaterThan(0);
      expect(report.rows.sent).toBeLessThan(rows);
      await sandbox.settle();
      const received = sandbox.invocations();
      // Exactly what the report says was sent arrived, and none of it was rewritten.
      expect(received).toHaveLength(report.rows.sent);
      expect(JSON.stringify(received)).not.toContain('Edit');
      const ids: { flowInvocationId: string }[] = parse(
        readFileSync(join(dir, 'report', 'invocations.csv'), 'utf8'),
        { columns: true },
      );
      expect(ids).toHaveLength(report.rows.sent);
      expect(new Set(ids.map((r) => r.flowInvocationId))).toEqual(
        new Set(received.map((r) => r.flowInvocationId)),
      );
      expect(
        readReport(join(dir, 'report'))
          .parts.filter((p) => p.status === 'uploaded')
          .reduce((n, p) => n + p.rows, 0),
      ).toBe(report.rows.sent);
    },
  );
});
