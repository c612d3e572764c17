/**
 * Domain arbitraries for property tests: CSV documents with every shape RFC 4180 allows
 * (quoted commas, quotes, CR/LF/CRLF inside quotes, unicode, empty fields) and, on
 * request, the malformed shapes real exports produce.
 */
import fc from 'fast-check';

export type Ending = '\n' | '\r\n' | '\r';

const pieces = fc.constantFrom(
  'a',
  'b',
  'z',
  '0',
  '7',
  ' ',
  ',',
  '"',
  '\n',
  '\r',
  '\r\n',
  'é',
  'ß',
  '名',
  '😀',
  '|',
  '-',
  '.',
);

/** A field value built from characters that exercise quoting and multi-byte UTF-8. */
export const fieldValue = fc.array(pieces, { maxLength: 12 }).map((parts) => parts.join(''));

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
            .map((v, c) =>
              encodeField(v, quoteAll[(r * 7 + c) % 64] === true || (width === 1 && v === '')),
            )
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

// ------------------------------------------------------------------ campaign documents

/** Columns of generated campaigns; valid for TEST_FLOW in test/validate-helpers.ts. */
export const CAMPAIGN_COLUMNS = [
  'target.attributes.atomic___id',
  'payload.variables.account',
  'payload.variables.name',
  'payload.variables.amount',
  'payload.variables.due',
  'payload.variables.vip',
  'payload.cardOptions.priority',
  'payload.cardOptions.expires',
  'payload.cardOptions.expiresInterval',
  'payload.cardOptions.targetPlatforms',
  'payload.cardOptions.targetStreamIds',
  'payload.metadata.campaign',
  'flowInvocationId',
] as const;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

const validDate = fc
  .record({
    y: fc.integer({ min: 1900, max: 2100 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
  })
  .map(({ y, m, d }) => `${y}-${pad(m)}-${pad(d)}`);

const validTime = fc
  .record({
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
  })
  .map(({ h, mi, s }) => `T${pad(h)}:${pad(mi)}:${pad(s)}`);

const zone = fc.constantFrom('Z', '+10:00', '-05:30', '+00:00');

const optional = <T extends string>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(''));

/** A valid cell for each campaign column, given the row number (for unique ids). */
function validCells(row: number): fc.Arbitrary<string[]> {
  return fc.tuple(
    fc.constantFrom('', 'é', ',x', '名', ' mid dle'.trim()).map((s) => `u${row}${s}`),
    fieldValue.filter((v) => v !== ''),
    fieldValue,
    optional(
      fc.oneof(
        fc.integer().map(String),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      ),
    ),
    optional(
      fc.oneof(
        validDate,
        fc.tuple(validDate, validTime, fc.oneof(zone, fc.constant(''))).map((p) => p.join('')),
      ),
    ),
    fc.constantFrom('true', 'false', ''),
    optional(fc.integer({ min: 1, max: 10 }).map(String)),
    optional(
      fc
        .tuple(
          fc.integer({ min: 2027, max: 2030 }).map((y) => `${y}-06-15`),
          validTime,
          zone,
        )
        .map((p) => p.join('')),
    ),
    fc.constantFrom('', 'PT30M', 'P2D', 'P1W', 'P1DT12H', 'PT0.5S'),
    fc.constantFrom('', 'Web', 'iOS|Android', 'Android|Web|iOS'),
    fc.constantFrom('', 'news', 'news|offers', 'a-1|b_2|c.3'),
    fieldValue,
    fc.constantFrom('', `inv-${row}`),
  );
}

/** One-cell defects: the column, a bad value, and the issue it must produce. */
export const DEFECTS = [
  { column: 'target.attributes.atomic___id', value: ' padded', code: 'target-whitespace' },
  { column: 'payload.variables.account', value: '', code: 'required-value-missing' },
  { column: 'payload.variables.amount', value: '1,5', code: 'invalid-number' },
  { column: 'payload.variables.due', value: '2026-02-30', code: 'invalid-date' },
  { column: 'payload.variables.vip', value: 'TRUE', code: 'invalid-boolean' },
  { column: 'payload.cardOptions.priority', value: '11', code: 'invalid-priority' },
  { column: 'payload.cardOptions.expires', value: '2030-01-01', code: 'invalid-timestamp' },
  { column: 'payload.cardOptions.expiresInterval', value: 'P0D', code: 'invalid-duration' },
  { column: 'payload.cardOptions.targetPlatforms', value: 'Web|Web', code: 'invalid-platform' },
  { column: 'payload.cardOptions.targetStreamIds', value: 'a||b', code: 'invalid-stream-ids' },
] as const;

export interface CampaignDocument {
  text: string;
  /** Physical line where each data row starts. */
  lines: number[];
  defect: { row: number; column: string; code: string; line: number } | null;
}

/** Counts line breaks as a reader does: CRLF is one. */
function lineBreaks(text: string): number {
  return (text.match(/\r\n|\r|\n/g) ?? []).length;
}

/** A valid campaign, optionally with one defect at a random row and column. */
export function campaignDocument(
  options: { defect?: boolean; maxRows?: number } = {},
): fc.Arbitrary<CampaignDocument> {
  const { defect = false, maxRows = 15 } = options;
  return fc.integer({ min: 1, max: maxRows }).chain((count) =>
    fc
      .record({
        rows: fc.tuple(...Array.from({ length: count }, (_, r) => validCells(r + 1))),
        ending: fc.constantFrom<Ending>('\n', '\r\n'),
        at: fc.nat({ max: count - 1 }),
        kind: fc.nat({ max: DEFECTS.length - 1 }),
      })
      .map(({ rows, ending, at, kind }) => {
        const injected = defect ? (DEFECTS[kind] as (typeof DEFECTS)[number]) : null;
        const encoded = rows.map((cells, r) =>
          cells
            .map((v, c) =>
              encodeField(
                injected !== null && r === at && CAMPAIGN_COLUMNS[c] === injected.column
                  ? injected.value
                  : v,
              ),
            )
            .join(','),
        );
        const lines: number[] = [];
        let line = 2;
        for (const row of encoded) {
          lines.push(line);
          line += lineBreaks(row) + 1;
        }
        return {
          text: `${CAMPAIGN_COLUMNS.join(',')}${ending}${encoded.join(ending)}${ending}`,
          lines,
          defect:
            injected === null
              ? null
              : {
                  row: at + 1,
                  column: injected.column,
                  code: injected.code,
                  line: lines[at] as number,
                },
        };
      }),
  );
}
