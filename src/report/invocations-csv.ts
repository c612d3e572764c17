/**
 * invocations.csv: `line,flowInvocationId` for every sent row, in input order, so the
 * sends can be reconciled later through Atomic's APIs. Built from the id files the
 * splitter writes next to each part.
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { ReportDir } from './report-dir.js';

export async function writeInvocations(dir: ReportDir, idFiles: string[]): Promise<string> {
  const out = dir.stream('invocations.csv');
  out.write('line,flowInvocationId\n');
  for (const file of idFiles) {
    for await (const chunk of createReadStream(file)) {
      if (!out.write(chunk)) await once(out, 'drain');
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.end((error?: Error | null) => {
      if (error) reject(error);
      else resolve();
    });
  });
  return 'invocations.csv';
}
