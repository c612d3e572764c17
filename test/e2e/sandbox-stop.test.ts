/**
 * A sandbox stopped while it processes a large upload stops at once (it used to wait
 * forever: the upload's reader waited for its parser to drain after processing had
 * stopped reading), so `send --sandbox` of a million rows and `atomic-bulk sandbox` on
 * Ctrl-C both end.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { runCli, sendArgs, tempDir } from './cli.js';

it('stops at once while it processes a large upload', async () => {
  const sb = await createSandbox({ processQuietMs: 0 });
  const dir = await tempDir();
  const input = join(dir, 'big.csv');
  const rows = Array.from({ length: 400_000 }, (_, k) => `user-${k},Ann,${k}`);
  await writeFile(
    input,
    `target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount\n${rows.join('\n')}\n`,
  );
  const send = await runCli(sendArgs(input, join(dir, 'state'), join(dir, 'report')), {
    env: sb.env,
  });
  expect(send.code, send.stderr).toBe(0);
  const processing = sb.tasks().filter((t) => t.status === 'processing' || t.status === 'queued');
  expect(processing.length).toBeGreaterThan(0);
  const started = Date.now();
  await sb.stop();
  expect(Date.now() - started).toBeLessThan(5000);
}, 60_000);
