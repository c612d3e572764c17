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

type OnFile = (fields: Map<string, string>) => Promise<{ sink: FileSink; minBytes: number }>;

export function readPostForm(
  req: IncomingMessage,
  onFile: OnFile,
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
    new FormReader(req, parser, { onFile, limits, resolve, reject }).start();
  });
}

/** One form being read: its fields until the file, then the file; the first refusal wins. */
class FormReader {
  private readonly fields = new Map<string, string>();
  private file: Promise<PostForm> | null = null;
  private failed = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly parser: busboy.Busboy,
    private readonly to: {
      onFile: OnFile;
      limits: FormLimits;
      resolve: (form: PostForm) => void;
      reject: (error: Error) => void;
    },
  ) {}

  start(): void {
    const { parser, req } = this;
    parser.on('field', (name, value, info) => {
      this.onField(name, value, info);
    });
    parser.on('file', (name, stream, info) => {
      this.onFilePart(name, stream, info.filename);
    });
    parser.on('fieldsLimit', () => this.fail(malformed('The form has too many fields.')));
    parser.on('partsLimit', () => this.fail(malformed('The form has too many parts.')));
    parser.on('filesLimit', () =>
      this.fail(malformed('POST requires exactly one file upload per request.')),
    );
    parser.on('error', this.unread);
    parser.on('close', () => {
      this.onClose();
    });
    req.on('error', this.unread);
    req.pipe(parser);
  }

  /** Refuses the request: with what the verifier or the sink said, as it is. */
  private readonly fail = (error: unknown): void => {
    if (this.failed) return;
    this.failed = true;
    this.req.unpipe(this.parser);
    this.to.reject(error instanceof Error ? error : new Error(String(error)));
  };

  /** Refuses a body busboy (or the connection) could not read, as S3 would say it. */
  private readonly unread = (error: unknown): void => {
    this.fail(error instanceof S3Failure ? error : unreadable(error));
  };

  private field(name: string, value: string, truncated: boolean): void {
    if (this.file !== null) return;
    const key = name.toLowerCase();
    if (truncated) this.fail(malformed(`The field "${key}" is too large.`));
    else if (this.fields.has(key)) this.fail(malformed(`The field "${key}" appears twice.`));
    else this.fields.set(key, value);
  }

  private onField(
    name: string,
    value: string,
    info: { valueTruncated: boolean; nameTruncated: boolean },
  ): void {
    if (name !== 'file' || this.file !== null) {
      this.field(name, value, info.valueTruncated || info.nameTruncated);
      return;
    }
    // S3 takes a "file" part without a file name as the file's text.
    if (info.valueTruncated) {
      this.fail(malformed('A file part without a file name is limited to a field’s size.'));
      return;
    }
    this.file = receive(Buffer.from(value, 'utf8'), '', this.fields, this.to.onFile);
    this.file.catch(this.fail);
  }

  private onFilePart(name: string, stream: Readable, filename: string | undefined): void {
    // A body cut short errors the part's stream too, maybe before anyone reads it.
    stream.on('error', this.unread);
    if (name !== 'file' || this.file !== null) {
      // Not the file: a field sent with a file name (S3 reads it as a field), or a second file.
      void collect(stream, this.to.limits.maxFieldBytes).then(
        (value) =>
          this.file === null
            ? this.field(name, value ?? '', value === null)
            : this.fail(malformed('POST requires exactly one file upload per request.')),
        this.fail,
      );
      return;
    }
    this.file = receive(stream, filename ?? '', this.fields, this.to.onFile);
    this.file.catch(this.fail);
  }

  private onClose(): void {
    if (this.failed) return;
    if (this.file === null) {
      this.fail(
        new S3Failure(400, 'InvalidArgument', 'POST requires exactly one file upload per request.'),
      );
      return;
    }
    this.file.then(this.to.resolve, this.fail);
  }
}

async function receive(
  body: Readable | Buffer,
  filename: string,
  fields: Map<string, string>,
  onFile: OnFile,
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
