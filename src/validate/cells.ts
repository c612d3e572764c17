/**
 * Cell grammars of SPEC 2.1 and 2.3, checked on the bytes of a field (buf, start, end)
 * without decoding it: most cells are ASCII, and a check that never builds a string is
 * an order of magnitude cheaper than a regular expression on one.
 *
 * A check returns null when the cell is valid, or a short reason that describes the
 * cell's shape ("uses a comma", "is not a real calendar date") and never its content.
 */
import { DOT, hasEdgeSpace, isDigit, MINUS, NINE, PIPE, PLUS, ZERO } from './cell-bytes.js';

export {
  checkDate,
  checkDuration,
  parseDateTime,
  parseTimestamp,
  type DateTimeParts,
} from './cell-time.js';

// ---------------------------------------------------------------------------- number

/** `-?digits(.digits)?([eE][+-]?digits)?`, finite; no separators, no spaces. */
export function checkNumber(buf: Buffer, s: number, e: number): string | null {
  let p = s;
  if (buf[p] === MINUS) p++;
  const intStart = p;
  while (p < e && isDigit(buf[p])) p++;
  let ok = p > intStart;
  let big = p - intStart > 300;
  if (ok && p < e && buf[p] === DOT) {
    p++;
    const fracStart = p;
    while (p < e && isDigit(buf[p])) p++;
    ok = p > fracStart;
  }
  if (ok && p < e && (buf[p] === 0x65 || buf[p] === 0x45)) {
    p++;
    if (p < e && (buf[p] === PLUS || buf[p] === MINUS)) p++;
    const expStart = p;
    while (p < e && isDigit(buf[p])) p++;
    ok = p > expStart;
    big = true;
  }
  if (ok && p === e) {
    if (big && !Number.isFinite(Number(buf.toString('latin1', s, e))))
      return 'is too large to be a finite number';
    return null;
  }
  return describeNumberFault(buf, s, e);
}

function describeNumberFault(buf: Buffer, s: number, e: number): string {
  const text = buf.toString('utf8', s, e);
  if (hasEdgeSpace(buf, s, e) || text.includes(' ')) return 'contains spaces';
  if (/^[-+]?[\d.]*,[\d.,]*$/.test(text))
    return 'uses a comma (thousands separator or decimal comma)';
  if (text.startsWith('+')) return 'has a leading plus sign';
  if (/^[-+]?[$€£¥]|[$€£¥%]$/.test(text)) return 'has a currency or percent sign';
  if (/^-?\.\d/.test(text) || /^-?\d+\.$/.test(text))
    return 'needs digits on both sides of the decimal point';
  return 'is not a number';
}

// ---------------------------------------------------------------------------- boolean

/** Exactly `true` or `false`. */
export function checkBoolean(buf: Buffer, s: number, e: number): string | null {
  const n = e - s;
  if (
    n === 4 &&
    buf[s] === 0x74 &&
    buf[s + 1] === 0x72 &&
    buf[s + 2] === 0x75 &&
    buf[s + 3] === 0x65
  )
    return null;
  if (
    n === 5 &&
    buf[s] === 0x66 &&
    buf[s + 1] === 0x61 &&
    buf[s + 2] === 0x6c &&
    buf[s + 3] === 0x73 &&
    buf[s + 4] === 0x65
  ) {
    return null;
  }
  const text = buf.toString('utf8', s, e).trim().toLowerCase();
  if (text === 'true' || text === 'false') return 'must be lowercase true or false, without spaces';
  if (['1', '0', 'yes', 'no', 'y', 'n', 't', 'f'].includes(text))
    return 'must be true or false, not 1/0 or yes/no';
  return 'must be true or false';
}

// ------------------------------------------------------------------------ card options

/** Integer 1 to 10. */
export function checkPriority(buf: Buffer, s: number, e: number): string | null {
  const n = e - s;
  if (n === 1 && (buf[s] as number) >= 0x31 && (buf[s] as number) <= NINE) return null;
  if (n === 2 && buf[s] === 0x31 && buf[s + 1] === ZERO) return null;
  const text = buf.toString('utf8', s, e).trim();
  if (/^-?\d+$/.test(text) && text === buf.toString('utf8', s, e)) return 'is outside 1 to 10';
  return 'must be a whole number from 1 to 10';
}

/** Pipe-separated, non-empty ids with no surrounding spaces: `a|b|c`. */
export function checkStreamIds(buf: Buffer, s: number, e: number): string | null {
  let segStart = s;
  for (let p = s; p <= e; p++) {
    if (p === e || buf[p] === PIPE) {
      if (p === segStart) return 'has an empty id (two pipes in a row, or a pipe at an end)';
      if (hasEdgeSpace(buf, segStart, p)) return 'has spaces around an id';
      segStart = p + 1;
    }
  }
  return null;
}

const PLATFORMS = ['Web', 'iOS', 'Android'];

/** The longest flowInvocationId a user may give (the tool's own are 36 characters). */
export const MAX_INVOCATION_ID_LENGTH = 128;

/**
 * A user-supplied flowInvocationId: 1–128 characters, an ASCII letter or digit first,
 * then letters, digits and . _ : - only (decisions.md, "flowInvocationId characters").
 * Ids end up in invocations.csv and reports people open, in terminal lines and in
 * Cards API queries: this keeps them free of formula triggers, control and invisible
 * characters, separators and look-alike letters.
 */
export function checkInvocationId(buf: Buffer, s: number, e: number): string | null {
  if (e - s > MAX_INVOCATION_ID_LENGTH)
    return `is longer than ${MAX_INVOCATION_ID_LENGTH} characters`;
  const first = buf[s] as number;
  if (!isAlnum(first)) return 'does not begin with a letter or digit';
  for (let p = s + 1; p < e; p++) {
    const c = buf[p] as number;
    if (!isAlnum(c) && c !== 0x2e && c !== 0x5f && c !== 0x3a && c !== 0x2d)
      return c >= 0x80
        ? 'holds a character outside ASCII'
        : c === 0x20
          ? 'holds a space'
          : 'holds a character other than letters, digits and . _ : -';
  }
  return null;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** A pipe-separated subset of Web, iOS, Android with no repeats. */
export function checkPlatforms(buf: Buffer, s: number, e: number): string | null {
  const seen = new Set<string>();
  for (const part of buf.toString('utf8', s, e).split('|')) {
    if (!PLATFORMS.includes(part)) {
      const fixed = PLATFORMS.find((p) => p.toLowerCase() === part.trim().toLowerCase());
      if (fixed !== undefined)
        return `has a platform written with the wrong case or spaces; write ${fixed}`;
      return part === ''
        ? 'has an empty platform'
        : 'has a platform other than Web, iOS or Android';
    }
    if (seen.has(part)) return 'names a platform twice';
    seen.add(part);
  }
  return null;
}

/** True when the value has leading or trailing white space (ASCII or Unicode). */
export function hasSurroundingSpace(buf: Buffer, s: number, e: number): boolean {
  if (e === s) return false;
  if (hasEdgeSpace(buf, s, e)) return true;
  if ((buf[s] as number) < 0x80 && (buf[e - 1] as number) < 0x80) return false;
  const text = buf.toString('utf8', s, e);
  return text !== text.trim();
}
