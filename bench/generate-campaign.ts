/**
 * Writes a realistic campaign CSV of about `targetBytes`, deterministically: quoted
 * commas, escaped quotes, unicode names, numbers, dates and card options, ~100 bytes a
 * row like the field notes' baseline file. Used by the benchmark and large-file tests.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const BENCH_HEADER = [
  'target.attributes.atomic___id',
  'payload.variables.firstName',
  'payload.variables.amount',
  'payload.variables.renewalDate',
  'payload.cardOptions.priority',
  'payload.cardOptions.expiresInterval',
  'payload.metadata.campaign',
];

const NAMES = [
  'Ana',
  'Björn',
  '"Smith, Jane"',
  'Zoë',
  'Li Na',
  '"Dee ""DJ"" Jones"',
  'Nguyễn',
  'Siobhán',
  'Aarav',
  'Łukasz',
];
const INTERVALS = ['P7D', 'PT48H', 'P1W', 'P14D', ''];

export function campaignRow(i: number): string {
  const name = NAMES[i % NAMES.length] as string;
  const amount = `${(i * 7919) % 100000}.${String(i % 100).padStart(2, '0')}`;
  const date = `2027-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
  const priority = i % 4 === 0 ? '' : String(1 + (i % 10));
  const interval = INTERVALS[i % INTERVALS.length] as string;
  return `customer-${String(i).padStart(9, '0')},${name},${amount},${date},${priority},${interval},renewals-2027-spring-wave-${i % 13}\n`;
}

/** Writes the file and returns its row count. */
export async function generateCampaign(path: string, targetBytes: number): Promise<number> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let rows = 0;
  const header = `${BENCH_HEADER.join(',')}\n`;
  out.write(header);
  written += header.length;
  while (written < targetBytes) {
    let chunk = '';
    for (let k = 0; k < 4096 && written + chunk.length < targetBytes; k++)
      chunk += campaignRow(++rows);
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

/** A campaign of exactly `rows` short rows (id, name, amount), for the sandbox benchmarks. */
export async function writeRowsCampaign(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`user-${i},Name ${i % 997},${i % 5000}.25\n`)) await once(out, 'drain');
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** `--name N` from the command line, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
}
