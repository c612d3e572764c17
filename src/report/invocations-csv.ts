/**
 * invocations.csv: `line,flowInvocationId` for every sent row, in input order, so the
 * sends can be reconciled later through Atomic's APIs. Built from the id files the
 * splitter writes next to each part (about 50 bytes a row), copied through one buffer.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportDir } from './report-dir.js';

export async function writeInvocations(dir: ReportDir, idFiles: string[]): Promise<string> {
  const name = 'invocations.csv';
  await dir.write(name, 'line,flowInvocationId\n');
  const out = await open(join(dir.localDir, name), 'a');
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    for (const file of idFiles) {
      const input = await open(file, 'r');
      try {
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          await out.write(buffer, 0, bytesRead);
        }
      } finally {
        await input.close();
      }
    }
  } finally {
    await out.close();
  }
  return name;
}
