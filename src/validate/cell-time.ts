/**
 * The date and time grammars of SPEC 2.1 and 2.3 — dates, timestamps (expires, embargo)
 * and ISO 8601 durations — checked on a field's bytes like every cell (cells.ts).
 */
import { COLON, digits, DOT, hasEdgeSpace, isDigit, MINUS, PLUS, ZERO } from './cell-bytes.js';

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
