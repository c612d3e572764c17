/**
 * The file shapes the benchmark measures, each generated deterministically at run time to
 * about a target size. They are the shapes real campaigns take, and the ones where a
 * reader, validator or splitter that is fast on one shape can be slow on another: very
 * short rows and tiny unquoted ones (per-row costs dominate; a parser may split unquoted
 * text without a quote check), wide rows (per-field costs), long quoted cells with
 * line breaks (the quoted path), every row sharing one invocation id (duplicate handling),
 * and unicode-heavy text (UTF-8 checking). All use the sample renewal-reminder flow.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { BENCH_HEADER, campaignRow } from './generate-campaign.js';

export interface Shape {
  key: string;
  label: string;
  header: string[];
  row: (i: number) => string;
  /** Exit code of validate / send --dry-run on this shape (1: the rows are invalid by design). */
  validateCode: number;
}

const ID = 'target.attributes.atomic___id';
const pad = (i: number) => String(i).padStart(9, '0');
const WIDE_COLUMNS = 120;
const LOREM =
  'Your policy renews soon, and "nothing changes" unless you tell us; call us, write to us,\nor reply to this message. ';
const UNICODE = [
  'Zoë Ωmega',
  '李小龍',
  'Nguyễn Thị Ánh',
  'Ærøskøbing',
  'محمد',
  'Ψυχή',
  '🎉 Party 🎂',
  'Дмитрий',
];

export const SHAPES: Shape[] = [
  {
    key: 'short',
    label: 'short rows (2 columns, ~30 B)',
    header: [ID, 'payload.variables.firstName'],
    row: (i) => `user-${pad(i)},Name${i}\n`,
    validateCode: 0,
  },
  {
    key: 'unquoted',
    label: 'tiny unquoted rows (2 columns, ~13 B)',
    header: [ID, 'payload.variables.firstName'],
    row: (i) => `u${String(i).padStart(8, '0')},N${i % 1000}\n`,
    validateCode: 0,
  },
  {
    key: 'typical',
    label: 'typical campaign (7 columns, ~80 B)',
    header: BENCH_HEADER,
    row: campaignRow,
    validateCode: 0,
  },
  {
    key: 'wide',
    label: `wide rows (${WIDE_COLUMNS + 3} columns, ~900 B)`,
    header: [
      ID,
      'payload.variables.firstName',
      'payload.variables.amount',
      ...Array.from({ length: WIDE_COLUMNS }, (_, k) => `payload.metadata.m${k}`),
    ],
    row: (i) => {
      let line = `user-${pad(i)},Name${i},${i % 1000}.50`;
      for (let k = 0; k < WIDE_COLUMNS; k++) line += `,v${(i + k) % 997}-x`;
      return `${line}\n`;
    },
    validateCode: 0,
  },
  {
    key: 'long-text',
    label: 'long quoted text with line breaks (~1.2 KB)',
    header: [ID, 'payload.variables.firstName', 'payload.notificationDetail.body'],
    row: (i) => `user-${pad(i)},Name${i},"${LOREM.repeat(10).replaceAll('"', '""')}${i}"\n`,
    validateCode: 0,
  },
  {
    key: 'shared-id',
    label: 'every row sharing one flowInvocationId',
    header: [ID, 'payload.variables.firstName', 'flowInvocationId'],
    row: (i) => `user-${pad(i)},Name${i},campaign-2027-spring\n`,
    validateCode: 1,
  },
  {
    key: 'unicode',
    label: 'unicode-heavy names and text',
    header: [ID, 'payload.variables.firstName', 'payload.metadata.note'],
    row: (i) =>
      `user-${pad(i)},${UNICODE[i % UNICODE.length] as string},${(UNICODE[(i + 3) % UNICODE.length] as string).repeat(4)} ✓ ${i}\n`,
    validateCode: 0,
  },
];

/** Writes about `targetBytes` of the shape to `path`; returns the number of data rows. */
export async function generateShape(
  shape: Shape,
  path: string,
  targetBytes: number,
): Promise<number> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let rows = 0;
  const header = `${shape.header.join(',')}\n`;
  out.write(header);
  written += Buffer.byteLength(header);
  while (written < targetBytes) {
    let chunk = '';
    for (let k = 0; k < 2048 && written + chunk.length < targetBytes; k++)
      chunk += shape.row(++rows);
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}
