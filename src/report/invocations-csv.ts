/**
 * invocations.csv: `line,flowInvocationId` for every sent row, in input order, so the
 * sends can be reconciled later through Atomic's APIs. Built from the id files the
 * splitter writes next to each part (about 50 bytes a row), copied through one buffer.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LineMap } from '../model/line-map.js';
import { neutralise } from '../model/neutralise.js';
import { csvField } from './rejected-csv.js';
import type { ReportDir } from './report-dir.js';

export async function writeInvocations(
  dir: ReportDir,
  idFiles: string[],
  lines?: LineMap,
): Promise<string> {
  const name = 'invocations.csv';
  await dir.write(name, 'line,flowInvocationId\n');
  if (lines?.multiFile === true) {
    await writeLocated(join(dir.localDir, name), idFiles, lines);
    return name;
  }
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

/**
 * For a multi-file input the line column is `file:line` (model/line-map.ts), rewritten
 * from the id files' joined-CSV line numbers one line at a time.
 */
async function writeLocated(path: string, idFiles: string[], lines: LineMap): Promise<void> {
  const out = await open(path, 'a');
  let pending: string[] = [];
  let size = 0;
  const flush = async () => {
    await out.write(pending.join(''));
    pending = [];
    size = 0;
  };
  try {
    for (const file of idFiles) {
      const input = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      for await (const text of input) {
        if (text === '') continue;
        const comma = text.indexOf(',');
        const at = csvField(neutralise(lines.cell(Number(text.slice(0, comma)))));
        const row = `${at}${text.slice(comma)}\n`;
        pending.push(row);
        size += row.length;
        if (size >= 1 << 20) await flush();
      }
    }
    await flush();
  } finally {
    await out.close();
  }
}
