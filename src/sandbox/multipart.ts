/**
 * A strict, streaming reader of multipart/form-data (RFC 7578) for the sandbox's upload
 * endpoint: the form fields (small, counted and bounded) and then the file, handed to a
 * sink chunk by chunk without ever holding it in memory. Anything malformed — a missing
 * or bad boundary, a folded or oversized part header, a part without a name, a body that
 * ends early — is a FormError (HTTP 400), never an exception that escapes the server.
 */

export class FormError extends Error {
  readonly status = 400;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FormLimits {
  /** Fields before the file. */
  maxFields: number;
  /** Bytes of one field's value. */
  maxFieldBytes: number;
  /** Bytes of one part's header block. */
  maxHeaderBytes: number;
  /** Bytes after the file part (further parts, the epilogue), read and ignored. */
  maxTrailingBytes: number;
}

export const DEFAULT_FORM_LIMITS: FormLimits = {
  maxFields: 32,
  maxFieldBytes: 20_000,
  maxHeaderBytes: 8_192,
  maxTrailingBytes: 65_536,
};

/** Receives the file's bytes; a write may throw (a FormError, say, when it is too large). */
export interface FileSink {
  write(chunk: Buffer): Promise<void>;
}

export interface FormResult {
  /** Fields before the file, names lower-cased. */
  fields: Map<string, string>;
  fileBytes: number;
}

const malformed = (message: string) => new FormError('MalformedPOSTRequest', message);

/** The boundary of a multipart/form-data Content-Type (RFC 2046 5.1.1). */
export function formBoundary(contentType: string | undefined): string {
  const m =
    /^multipart\/form-data\s*;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;.*)?$/i.exec(
      contentType ?? '',
    );
  const boundary = m?.[1] ?? m?.[2];
  if (
    boundary === undefined ||
    !/^[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)
  )
    throw malformed('The body of your POST request is not well-formed multipart/form-data.');
  return boundary;
}

/** Pulls bytes from an async iterable into one growing window. */
class Window {
  buf = Buffer.alloc(0);
  private done = false;
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;

  constructor(body: AsyncIterable<Buffer | Uint8Array | string>) {
    this.it = body[Symbol.asyncIterator]();
  }

  /** Appends the next chunk; false at the end of the body. */
  async more(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done === true) {
      this.done = true;
      return false;
    }
    const chunk =
      typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Ensures `n` bytes are available; false when the body ends first. */
  async need(n: number): Promise<boolean> {
    while (this.buf.length < n) if (!(await this.more())) return false;
    return true;
  }

  consume(n: number): void {
    this.buf = this.buf.subarray(n);
  }
}

interface PartHeader {
  name: string;
  filename: string | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseHeaders(block: string): PartHeader {
  let disposition: string | null = null;
  for (const line of block.split('\r\n')) {
    if (line.length === 0) continue;
    if (line.startsWith(' ') || line.startsWith('\t'))
      throw malformed(
        'A part header line begins with white space (folded headers are not allowed).',
      );
    const colon = line.indexOf(':');
    const name = colon <= 0 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) throw malformed('A part header is not "Name: value".');
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(line))
      throw malformed('A part header contains a control character.');
    if (name.toLowerCase() === 'content-disposition') {
      if (disposition !== null) throw malformed('A part has two Content-Disposition headers.');
      disposition = line.slice(colon + 1).trim();
    }
  }
  if (disposition === null) throw malformed('A part has no Content-Disposition header.');
  const [kind, ...params] = splitParams(disposition);
  if (kind?.toLowerCase() !== 'form-data') throw malformed('A part is not form-data.');
  let name: string | null = null;
  let filename: string | null = null;
  for (const param of params) {
    const m = /^([A-Za-z*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s";]+))$/.exec(param);
    if (m === null) throw malformed('A Content-Disposition parameter is malformed.');
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] as string);
    const key = (m[1] as string).toLowerCase();
    if (key === 'name') name = value;
    else if (key === 'filename') filename = value;
  }
  if (name === null || name === '') throw malformed('A part has no name.');
  return { name, filename };
}

/** Splits `a; b="x;y"; c` on semicolons outside quotes. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && quoted) {
      current += c + (value[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === ';' && !quoted) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (quoted) throw malformed('A Content-Disposition header has an unterminated quote.');
  out.push(current.trim());
  return out;
}

/**
 * Reads fields until the part named `file`, calls `onFile` with them (it verifies them
 * and returns where the file goes, or throws), streams the file into the sink, and reads
 * the rest of the body up to the closing delimiter.
 */
export async function readForm(
  body: AsyncIterable<Buffer | Uint8Array | string>,
  boundary: string,
  onFile: (fields: Map<string, string>, filename: string | null) => Promise<FileSink>,
  limits: FormLimits = DEFAULT_FORM_LIMITS,
): Promise<FormResult> {
  const w = new Window(body);
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const incomplete = () =>
    new FormError('IncompleteBody', 'The request body ended before the closing boundary.');

  if (!(await w.need(dash.length)) || !w.buf.subarray(0, dash.length).equals(dash))
    throw malformed('The body does not begin with the boundary.');
  w.consume(dash.length);
  const fields = new Map<string, string>();
  let fileBytes = 0;
  let sawFile = false;
  for (;;) {
    // After a delimiter: "--" closes the form, CRLF starts a part.
    if (!(await w.need(2))) throw incomplete();
    const after = w.buf.subarray(0, 2).toString('latin1');
    w.consume(2);
    if (after === '--') break;
    if (after !== '\r\n') throw malformed('A boundary is not followed by CRLF or "--".');
    if (sawFile) {
      // S3 ignores what follows the file; read it, bounded, to find the end.
      await skipToClose(w, delimiter, limits.maxTrailingBytes, incomplete);
      break;
    }

    let end = w.buf.indexOf('\r\n\r\n');
    while (end < 0) {
      if (w.buf.length > limits.maxHeaderBytes)
        throw malformed('A part header block is too large.');
      if (!(await w.more())) throw incomplete();
      end = w.buf.indexOf('\r\n\r\n');
    }
    if (end > limits.maxHeaderBytes) throw malformed('A part header block is too large.');
    const header = parseHeaders(w.buf.subarray(0, end).toString('utf8'));
    w.consume(end + 4);

    if (header.name === 'file') {
      sawFile = true;
      const sink = await onFile(fields, header.filename);
      fileBytes = await streamPart(w, delimiter, sink, incomplete);
      continue;
    }
    const key = header.name.toLowerCase();
    if (fields.has(key)) throw malformed(`The field "${key}" appears twice.`);
    if (fields.size >= limits.maxFields) throw malformed('The form has too many fields.');
    const chunks: Buffer[] = [];
    let size = 0;
    await streamPart(
      w,
      delimiter,
      {
        write(chunk) {
          size += chunk.length;
          if (size > limits.maxFieldBytes)
            return Promise.reject(malformed(`The field "${key}" is too large.`));
          chunks.push(chunk);
          return Promise.resolve();
        },
      },
      incomplete,
    );
    fields.set(key, Buffer.concat(chunks).toString('utf8'));
  }
  if (!sawFile)
    throw new FormError('InvalidArgument', 'POST requires exactly one file upload per request.');
  return { fields, fileBytes };
}

/** Streams a part's body into `sink` up to the next delimiter, which it consumes. */
async function streamPart(
  w: Window,
  delimiter: Buffer,
  sink: FileSink,
  incomplete: () => FormError,
): Promise<number> {
  let written = 0;
  for (;;) {
    const at = w.buf.indexOf(delimiter);
    if (at >= 0) {
      if (at > 0) await sink.write(w.buf.subarray(0, at));
      written += at;
      w.consume(at + delimiter.length);
      return written;
    }
    // Keep what could be the start of a delimiter split across chunks.
    const safe = w.buf.length - (delimiter.length - 1);
    if (safe > 0) {
      await sink.write(w.buf.subarray(0, safe));
      written += safe;
      w.consume(safe);
    }
    if (!(await w.more())) throw incomplete();
  }
}

async function skipToClose(
  w: Window,
  delimiter: Buffer,
  maxBytes: number,
  incomplete: () => FormError,
): Promise<void> {
  let seen = 0;
  for (;;) {
    await streamPart(
      w,
      delimiter,
      {
        write(chunk) {
          seen += chunk.length;
          if (seen > maxBytes) return Promise.reject(malformed('Too much data follows the file.'));
          return Promise.resolve();
        },
      },
      incomplete,
    );
    if (!(await w.need(2))) throw incomplete();
    const after = w.buf.subarray(0, 2).toString('latin1');
    w.consume(2);
    if (after === '--') return;
    if (after !== '\r\n') throw malformed('A boundary is not followed by CRLF or "--".');
  }
}
