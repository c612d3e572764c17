/**
 * Domain arbitraries for property tests: CSV documents with every shape RFC 4180 allows
 * (quoted commas, quotes, CR/LF/CRLF inside quotes, unicode, empty fields) and, on
 * request, the malformed shapes real exports produce.
 */
import fc from 'fast-check';

export type Ending = '\n' | '\r\n' | '\r';

const pieces = fc.constantFrom(
  'a', 'b', 'z', '0', '7', ' ', ',', '"', '\n', '\r', '\r\n', 'é', 'ß', '名', '😀', '|', '-', '.',
);

/** A field value built from characters that exercise quoting and multi-byte UTF-8. */
export const fieldValue = fc
  .array(pieces, { maxLength: 12 })
  .map((parts) => parts.join(''));

/** Encodes a value per RFC 4180, quoting when needed (or when `forceQuote`). */
export function encodeField(value: string, forceQuote = false): string {
  if (forceQuote || /[",\r\n]/.test(value)) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

export interface CsvDocument {
  text: string;
  rows: string[][];
  ending: Ending;
}

export interface CsvDocumentOptions {
  /** Insert stray quotes, text after closing quotes, blank lines, ragged rows, an unclosed quote. */
  allowMalformed?: boolean;
  minRows?: number;
  maxRows?: number;
}

/** A CSV document: a header and rows of the same width, one line-ending style. */
export function csvDocument(options: CsvDocumentOptions = {}): fc.Arbitrary<CsvDocument> {
  const { allowMalformed = false, minRows = 0, maxRows = 12 } = options;
  return fc.integer({ min: 1, max: 5 }).chain((width) =>
    fc
      .record({
        rows: fc.array(fc.array(fieldValue, { minLength: width, maxLength: width }), {
          minLength: minRows + 1,
          maxLength: maxRows + 1,
        }),
        quoteAll: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        ending: fc.constantFrom<Ending>('\n', '\r\n', '\r'),
        trailing: fc.boolean(),
        junk: allowMalformed
          ? fc.array(
              fc.record({
                at: fc.nat(),
                text: fc.constantFrom('"', 'x"y', '"q"z', '\n', '\r\n\r\n', ',,', '\u00ff'),
              }),
              { maxLength: 3 },
            )
          : fc.constant([]),
      })
      .map(({ rows, quoteAll, ending, trailing, junk }) => {
        const lines = rows.map((row, r) =>
          row
            .map((v, c) => encodeField(v, quoteAll[(r * 7 + c) % 64] === true || (width === 1 && v === '')))
            .join(','),
        );
        let text = lines.join(ending) + (trailing ? ending : '');
        for (const { at, text: j } of junk) {
          const p = at % (text.length + 1);
          text = text.slice(0, p) + j + text.slice(p);
        }
        return { text, rows, ending };
      }),
  );
}

/** Cut points for splitting a buffer of `length` bytes into arbitrary chunks. */
export function cutPoints(length: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 });
}
