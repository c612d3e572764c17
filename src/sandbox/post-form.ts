/**
 * Reads a browser-style S3 POST (multipart/form-data) as S3 does, with busboy: the fields
 * before the file (bounded in number and size, each at most once, names lower-cased) are
 * handed to `onFile`, which verifies them and returns where the file goes; the file is
 * streamed there, never held in memory; fields after the file are ignored. In the key,
 * `${filename}` becomes the file's name after its last slash or backslash. Anything
 * malformed is an S3Failure (400), never an exception that escapes the server.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { S3Failure } from './store-types.js';

export interface FormLimits {
  /** Fields before the file. */
  maxFields: number;
  /** Bytes of one field's value. */
  maxFieldBytes: number;
  /** Parts in all (fields, the file, anything after it). */
  maxParts: number;
}

export const DEFAULT_FORM_LIMITS: FormLimits = {
  maxFields: 32,
  maxFieldBytes: 20_000,
  maxParts: 40,
};

/** Receives the file's bytes; a write may throw (EntityTooLarge, say). */
export interface FileSink {
  write(chunk: Buffer): Promise<void>;
}

export interface PostForm {
  /** The object's key, `${filename}` substituted. */
  key: string;
  fileBytes: number;
}

const malformed = (message: string) => new S3Failure(400, 'MalformedPOSTRequest', message);

/** S3's `${filename}`: the file's name (busboy has kept only what follows the last / or \). */
export function substituteFilename(key: string, filename: string): string {
  return key.split('${filename}').join(filename);
}

export function readPostForm(
  req: IncomingMessage,
  onFile: (fields: Map<string, string>) => Promise<{ sink: FileSink; minBytes: number }>,
  limits: FormLimits = DEFAULT_FORM_LIMITS,
): Promise<PostForm> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: {
        fields: limits.maxFields,
        fieldSize: limits.maxFieldBytes,
        parts: limits.maxParts,
        files: 1,
        headerPairs: 16,
      },
      defParamCharset: 'utf8',
    });
  } catch {
    return Promise.reject(
      malformed('The body of your POST request is not well-formed multipart/form-data.'),
    );
  }
  return new Promise<PostForm>((resolve, reject) => {
    const fields = new Map<string, string>();
    let file: Promise<PostForm> | null = null;
    let failed = false;
    /** Refuses the request: with what the verifier or the sink said, as it is. */
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    /** Refuses a body busboy (or the connection) could not read, as S3 would say it. */
    const unread = (error: unknown) => fail(error instanceof S3Failure ? error : unreadable(error));
    const field = (name: string, value: string, truncated: boolean) => {
      if (file !== null) return;
      const key = name.toLowerCase();
      if (truncated) fail(malformed(`The field "${key}" is too large.`));
      else if (fields.has(key)) fail(malformed(`The field "${key}" appears twice.`));
      else fields.set(key, value);
    };
    parser.on('field', (name, value, info) => {
      if (name === 'file' && file === null) {
        // S3 takes a "file" part without a file name as the file's text.
        if (info.valueTruncated) {
          fail(malformed('A file part without a file name is limited to a field’s size.'));
          return;
        }
        file = receive(Buffer.from(value, 'utf8'), '', fields, onFile);
        file.catch(fail);
        return;
      }
      field(name, value, info.valueTruncated || info.nameTruncated);
    });
    parser.on('file', (name, stream, info) => {
      // A body cut short errors the part's stream too, maybe before anyone reads it.
      stream.on('error', unread);
      if (name !== 'file' || file !== null) {
        // Not the file: a field sent with a file name (S3 reads it as a field), or a second file.
        void collect(stream, limits.maxFieldBytes).then(
          (value) =>
            file === null
              ? field(name, value ?? '', value === null)
              : fail(malformed('POST requires exactly one file upload per request.')),
          fail,
        );
        return;
      }
      file = receive(stream, info.filename ?? '', fields, onFile);
      file.catch(fail);
    });
    parser.on('fieldsLimit', () => fail(malformed('The form has too many fields.')));
    parser.on('partsLimit', () => fail(malformed('The form has too many parts.')));
    parser.on('filesLimit', () =>
      fail(malformed('POST requires exactly one file upload per request.')),
    );
    parser.on('error', unread);
    parser.on('close', () => {
      if (failed) return;
      if (file === null) {
        fail(
          new S3Failure(
            400,
            'InvalidArgument',
            'POST requires exactly one file upload per request.',
          ),
        );
        return;
      }
      file.then(resolve, fail);
    });
    req.on('error', unread);
    req.pipe(parser);
  });
}

async function receive(
  body: Readable | Buffer,
  filename: string,
  fields: Map<string, string>,
  onFile: (fields: Map<string, string>) => Promise<{ sink: FileSink; minBytes: number }>,
): Promise<PostForm> {
  let target: { sink: FileSink; minBytes: number };
  try {
    target = await onFile(fields);
  } catch (error) {
    if (!Buffer.isBuffer(body)) body.resume();
    throw error;
  }
  const key = substituteFilename(fields.get('key') ?? '', filename);
  if (key === '')
    throw new S3Failure(400, 'InvalidArgument', 'Bucket POST must contain a field named key.');
  let fileBytes = 0;
  const source: AsyncIterable<Buffer> = Buffer.isBuffer(body)
    ? (async function* () {
        yield await Promise.resolve(body);
      })()
    : (body as AsyncIterable<Buffer>);
  const chunks = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await chunks.next();
    } catch (error) {
      throw unreadable(error);
    }
    if (next.done === true) break;
    fileBytes += next.value.length;
    await target.sink.write(next.value);
  }
  if (!Buffer.isBuffer(body) && (body as Readable & { truncated?: boolean }).truncated === true)
    throw malformed('The file part is too large.');
  if (fileBytes < target.minBytes)
    throw new S3Failure(
      400,
      'EntityTooSmall',
      'Your proposed upload is smaller than the minimum allowed size.',
    );
  return { key, fileBytes };
}

/** A part's text up to `maxBytes`, or null when it is longer. */
async function collect(stream: Readable, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size <= maxBytes) chunks.push(chunk as Buffer);
  }
  return size > maxBytes ? null : Buffer.concat(chunks).toString('utf8');
}

/** What busboy (or the request) failed with, as S3 would answer it. */
function unreadable(error: unknown): S3Failure {
  const message = error instanceof Error ? error.message : String(error);
  if (/unexpected end/i.test(message))
    return new S3Failure(
      400,
      'IncompleteBody',
      'The request body ended before the closing boundary.',
    );
  return malformed('The body of your POST request is not well-formed multipart/form-data.');
}
