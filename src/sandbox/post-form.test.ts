import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readPostForm, substituteFilename } from './post-form.js';
import { S3Failure } from './store-types.js';

const B = 'xyzBOUNDARY';

/** A request carrying these parts, cut into small chunks. */
function request(parts: string[], boundary = B): IncomingMessage {
  const body = Buffer.from(
    `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`,
  );
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; i += 7) chunks.push(body.subarray(i, i + 7));
  return Object.assign(Readable.from(chunks), {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  }) as unknown as IncomingMessage;
}

const field = (name: string, value: string) =>
  `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`;
const file = (content: string, filename = 'part.csv') =>
  `Content-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n${content}`;

interface Read {
  key?: string;
  fileBytes?: number;
  fields?: Map<string, string>;
  content?: string;
  refused?: string;
  message?: string;
}

async function read(req: IncomingMessage, minBytes = 0): Promise<Read> {
  const seen: { fields?: Map<string, string>; bytes: Buffer[] } = { bytes: [] };
  try {
    const form = await readPostForm(req, (fields) => {
      seen.fields = new Map(fields);
      return Promise.resolve({
        sink: { write: (c: Buffer) => Promise.resolve(void seen.bytes.push(c)) },
        minBytes,
      });
    });
    return { ...form, fields: seen.fields, content: Buffer.concat(seen.bytes).toString() };
  } catch (error) {
    if (error instanceof S3Failure) return { refused: error.code, message: error.message };
    throw error;
  }
}

describe('readPostForm', () => {
  it('hands over the fields before the file, streams the file, ignores fields after it', async () => {
    const form = await read(
      request([
        field('key', 'tasks/a.csv'),
        field('Policy', 'p'),
        file('a,b\n1,2\n'),
        field('late', 'x'),
      ]),
    );
    expect(form).toMatchObject({ key: 'tasks/a.csv', fileBytes: 8, content: 'a,b\n1,2\n' });
    expect([...(form.fields?.keys() ?? [])]).toEqual(['key', 'policy']);
  });

  it('puts the file name, after its last slash or backslash, where the key says ${filename}', async () => {
    expect(
      (await read(request([field('key', 'up/${filename}'), file('x', 'C:\\dir\\p.csv')]))).key,
    ).toBe('up/p.csv');
    expect(
      (await read(request([field('key', 'up/${filename}'), file('x', '../../etc/p.csv')]))).key,
    ).toBe('up/p.csv');
    expect(substituteFilename('a/${filename}/${filename}', 'f')).toBe('a/f/f');
  });

  it('takes a "file" part without a file name as the file’s text, as S3 does', async () => {
    expect(await read(request([field('key', 'k'), field('file', 'a,b\n')]))).toMatchObject({
      key: 'k',
      content: 'a,b\n',
    });
  });

  it('refuses a field twice, too many fields, a huge field, no file, two files, a short file', async () => {
    expect(await read(request([field('key', 'a'), field('KEY', 'b'), file('x')]))).toMatchObject({
      refused: 'MalformedPOSTRequest',
    });
    const many = Array.from({ length: 40 }, (_, i) => field(`f${i}`, 'v'));
    expect(await read(request([...many, file('x')]))).toMatchObject({
      refused: 'MalformedPOSTRequest',
    });
    expect(await read(request([field('key', 'x'.repeat(30_000)), file('x')]))).toMatchObject({
      refused: 'MalformedPOSTRequest',
    });
    expect(await read(request([field('key', 'a')]))).toMatchObject({ refused: 'InvalidArgument' });
    expect(await read(request([field('key', 'a'), file('x'), file('y')]))).toMatchObject({
      refused: 'MalformedPOSTRequest',
    });
    expect(await read(request([field('key', 'a'), file('x')]), 5)).toMatchObject({
      refused: 'EntityTooSmall',
    });
  });

  it('answers a body cut short or without a boundary as S3 does, never by throwing elsewhere', async () => {
    const cut = Object.assign(
      Readable.from([Buffer.from(`--${B}\r\n${field('key', 'a')}\r\n--${B}\r\n${file('abc')}`)]),
      { headers: { 'content-type': `multipart/form-data; boundary=${B}` } },
    ) as unknown as IncomingMessage;
    expect(await read(cut)).toMatchObject({ refused: 'IncompleteBody' });
    const none = Object.assign(Readable.from([Buffer.from('x')]), {
      headers: { 'content-type': 'text/plain' },
    }) as unknown as IncomingMessage;
    expect(await read(none)).toMatchObject({ refused: 'MalformedPOSTRequest' });
  });
});
