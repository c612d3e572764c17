/**
 * Cell grammars of SPEC 2.1 and 2.3, checked on the bytes of a field (buf, start, end)
 * without decoding it: most cells are ASCII, and a check that never builds a string is
 * an order of magnitude cheaper than a regular expression on one.
 *
 * A check returns null when the cell is valid, or a short reason that describes the
 * cell's shape ("uses a comma", "is not a real calendar date") and never its content.
 */

const ZERO = 0x30;
const NINE = 0x39;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const COLON = 0x3a;
const PIPE = 0x7c;

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

/** Reads `count` digits at p as a number, or -1 when any is not a digit or out of range. */
function digits(buf: Buffer, p: number, count: number, end: number): number {
  if (p + count > end) return -1;
  let v = 0;
  for (let k = 0; k < count; k++) {
    const c = buf[p + k] as number;
    if (c < ZERO || c > NINE) return -1;
    v = v * 10 + (c - ZERO);
  }
  return v;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function hasEdgeSpace(buf: Buffer, s: number, e: number): boolean {
  return e > s && (isSpace(buf[s]) || isSpace(buf[e - 1]));
}

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

// ------------------------------------------------------------------------ date, time

export interface DateTimeParts {
  /** Milliseconds since the epoch for the instant, when a zone was given. */
  epochMs: number;
  hasTime: boolean;
  hasZone: boolean;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Reused by parseDateTime so checking a date cell allocates nothing. */
const parts: DateTimeParts = { epochMs: 0, hasTime: false, hasZone: false };

/**
 * Parses `YYYY-MM-DD` optionally followed by `Thh:mm`, `:ss`, `.fraction`, `Z` or
 * `±hh:mm`. Returns the parts, or a reason string when the text is not such a value.
 * The parts object is shared: read it before the next call.
 */
export function parseDateTime(buf: Buffer, s: number, e: number): DateTimeParts | string {
  const year = digits(buf, s, 4, e);
  const month = buf[s + 4] === MINUS ? digits(buf, s + 5, 2, e) : -1;
  const day = buf[s + 7] === MINUS ? digits(buf, s + 8, 2, e) : -1;
  if (year < 0 || month < 0 || day < 0) return describeDateFault(buf, s, e);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return 'is not a real calendar date';
  }
  let p = s + 10;
  let hh = 0;
  let mi = 0;
  let ss = 0;
  let ms = 0;
  let hasTime = false;
  let hasZone = false;
  let offsetMin = 0;
  if (p < e) {
    if (buf[p] === 0x20) return 'has a space between date and time; use T';
    if (buf[p] !== 0x54) return 'must be written YYYY-MM-DD, optionally followed by Thh:mm';
    hh = digits(buf, p + 1, 2, e);
    mi = buf[p + 3] === COLON ? digits(buf, p + 4, 2, e) : -1;
    if (hh < 0 || mi < 0) return 'has a time that is not written hh:mm';
    p += 6;
    hasTime = true;
    if (p < e && buf[p] === COLON) {
      ss = digits(buf, p + 1, 2, e);
      if (ss < 0) return 'has seconds that are not two digits';
      p += 3;
      if (p < e && buf[p] === DOT) {
        const fracStart = ++p;
        while (p < e && isDigit(buf[p])) p++;
        if (p === fracStart) return 'has a decimal point with no digits after it';
        ms = Math.floor(Number(`0.${buf.toString('latin1', fracStart, p)}`) * 1000);
      }
    }
    if (hh > 23 || mi > 59 || ss > 59) return 'is not a real time of day';
    if (p < e) {
      const z = buf[p];
      if (z === 0x5a) {
        hasZone = true;
        p++;
      } else if (z === PLUS || z === MINUS) {
        const oh = digits(buf, p + 1, 2, e);
        const om = buf[p + 3] === COLON ? digits(buf, p + 4, 2, e) : -1;
        if (oh < 0 || om < 0) return 'has a time zone offset that is not written ±hh:mm';
        if (oh > 23 || om > 59) return 'has a time zone offset out of range';
        offsetMin = (z === MINUS ? -1 : 1) * (oh * 60 + om);
        hasZone = true;
        p += 6;
      }
      if (p !== e) return 'has unexpected text after the time';
    }
  }
  parts.epochMs = Date.UTC(year, month - 1, day, hh, mi, ss, ms) - offsetMin * 60_000;
  parts.hasTime = hasTime;
  parts.hasZone = hasZone;
  return parts;
}

function describeDateFault(buf: Buffer, s: number, e: number): string {
  const text = buf.toString('utf8', s, e);
  if (hasEdgeSpace(buf, s, e)) return 'has leading or trailing spaces';
  if (/^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}/.test(text))
    return 'is written day/month or month/day; use YYYY-MM-DD';
  if (/^\d{4}[/.]\d{1,2}[/.]\d{1,2}/.test(text)) return 'uses / or . between parts; use YYYY-MM-DD';
  if (/^\d{4}-\d{1,2}-\d{1,2}/.test(text)) return 'needs two-digit month and day (YYYY-MM-DD)';
  if (/^\d+(\.\d+)?$/.test(text)) return 'is a number (a spreadsheet serial date?); use YYYY-MM-DD';
  return 'is not a date written YYYY-MM-DD';
}

/** A `date` variable: a real date, optionally with a time and zone. */
export function checkDate(buf: Buffer, s: number, e: number): string | null {
  const parsed = parseDateTime(buf, s, e);
  return typeof parsed === 'string' ? parsed : null;
}

/** A card-option timestamp: date-time with a zone. Returns epoch ms or a reason. */
export function parseTimestamp(buf: Buffer, s: number, e: number): number | string {
  const parsed = parseDateTime(buf, s, e);
  if (typeof parsed === 'string') return parsed;
  if (!parsed.hasTime) return 'has no time; write YYYY-MM-DDThh:mm:ssZ';
  if (!parsed.hasZone) return 'has no time zone; add Z or ±hh:mm';
  return parsed.epochMs;
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

// --------------------------------------------------------------------------- duration

const DATE_DESIGNATORS = [0x59, 0x4d, 0x57, 0x44]; // Y M W D
const TIME_DESIGNATORS = [0x48, 0x4d, 0x53]; // H M S

/**
 * ISO 8601 duration `P[nY][nM][nW][nD][T[nH][nM][nS]]`, at least one component, not zero;
 * a decimal fraction is allowed on the last component only.
 */
export function checkDuration(buf: Buffer, s: number, e: number): string | null {
  if (buf[s] !== 0x50) return 'must start with P, e.g. PT30M or P2D';
  let p = s + 1;
  let components = 0;
  let nonZero = false;
  let inTime = false;
  let order = 0;
  let fractionSeen = false;
  while (p < e) {
    if (buf[p] === 0x54) {
      if (inTime) return 'has T twice';
      inTime = true;
      order = 0;
      p++;
      if (p === e) return 'has T with no hours, minutes or seconds after it';
      continue;
    }
    if (fractionSeen) return 'has a fraction on a component that is not the last';
    const numStart = p;
    let value = 0;
    while (p < e && isDigit(buf[p])) value = value * 10 + ((buf[p++] as number) - ZERO);
    if (p === numStart) return 'is not an ISO 8601 duration such as PT30M, P2D or P1W';
    if (p < e && buf[p] === DOT) {
      const fracStart = ++p;
      while (p < e && isDigit(buf[p])) {
        if (buf[p] !== ZERO) nonZero = true;
        p++;
      }
      if (p === fracStart) return 'has a decimal point with no digits after it';
      fractionSeen = true;
    }
    const designators = inTime ? TIME_DESIGNATORS : DATE_DESIGNATORS;
    const at = designators.indexOf(buf[p] as number, order);
    if (p === e || at < 0)
      return 'has components out of order or an unknown unit (use Y M W D, then T H M S)';
    order = at + 1;
    components++;
    if (value > 0) nonZero = true;
    p++;
  }
  if (components === 0) return 'has no components; e.g. PT30M or P2D';
  if (!nonZero) return 'is zero; an expiry interval must be longer than zero';
  return null;
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
