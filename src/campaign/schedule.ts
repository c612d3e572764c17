/**
 * The words of SPEC 8 for time: --once-per durations, --rate paces and --window quiet
 * hours in an IANA time zone. Pure functions over an injected "now".
 */
import { AtomicBulkError } from '../model/errors.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** Longest --once-per: ten years (the ledger stores seconds in 32 bits). */
const MAX_ONCE_PER = 10 * 365 * 86_400;

/** `forever` → null; `6s`, `12h`, `30d` → seconds. */
export function parseOncePer(text: string): number | null {
  if (text === 'forever') return null;
  const m = /^([1-9]\d{0,9})([smhd])$/.exec(text);
  const seconds = m === null ? NaN : Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  if (!(seconds <= MAX_ONCE_PER))
    throw new AtomicBulkError('USAGE', `--once-per ${text} is not a duration.`, {
      hint: 'Use forever, or a number with s, m, h or d (e.g. 12h, 30d), at most ten years.',
    });
  return seconds;
}

export interface Pace {
  /** Rows entering Atomic per slot. */
  rows: number;
  slotMs: number;
}

/** `N/min` or `N/h` (also `N/m`, `N/hour`, `N/minute`). */
export function parseRate(text: string): Pace {
  const m = /^([1-9]\d{0,8})\/(min|minute|m|h|hour)$/.exec(text.trim());
  if (m === null)
    throw new AtomicBulkError('USAGE', `--rate ${text} is not a pace.`, {
      hint: 'Use rows per minute or per hour, e.g. --rate 20000/min or --rate 500000/h.',
    });
  return { rows: Number(m[1]), slotMs: m[2]!.startsWith('h') ? 3_600_000 : 60_000 };
}

export interface Window {
  from: string;
  to: string;
  timeZone: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** `HH:MM-HH:MM` in `timeZone` (an IANA name). */
export function parseWindow(text: string, timeZone: string): Window {
  const [from, to, extra] = text.split('-');
  if (
    from === undefined ||
    to === undefined ||
    extra !== undefined ||
    !HHMM.test(from) ||
    !HHMM.test(to) ||
    from === to
  )
    throw new AtomicBulkError('USAGE', `--window ${text} is not a time window.`, {
      hint: 'Use HH:MM-HH:MM in 24-hour time, e.g. --window 08:00-20:00 (22:00-06:00 spans midnight).',
    });
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
  } catch {
    throw new AtomicBulkError('USAGE', `--timezone ${timeZone} is not a time zone.`, {
      hint: 'Use an IANA name such as Europe/London, America/New_York or UTC.',
    });
  }
  return { from, to, timeZone };
}

function minutes(hhmm: string): number {
  const m = HHMM.exec(hhmm) as RegExpExecArray;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Minutes since local midnight in the zone (seconds dropped), and the seconds. */
function localTime(at: Date, timeZone: string): { minute: number; second: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { minute: get('hour') * 60 + get('minute'), second: get('second') };
}

export function insideWindow(w: Window, at: Date): boolean {
  const t = localTime(at, w.timeZone).minute;
  const from = minutes(w.from);
  const to = minutes(w.to);
  return from < to ? t >= from && t < to : t >= from || t < to;
}

/** When the window next opens after `at` (to the minute; a DST change that day may move it by an hour). */
export function nextOpening(w: Window, at: Date): Date {
  const { minute, second } = localTime(at, w.timeZone);
  let wait = minutes(w.from) - minute;
  if (wait <= 0) wait += 24 * 60;
  return new Date(at.getTime() + wait * 60_000 - second * 1000 - at.getMilliseconds());
}

/** The opening time as people read it: ISO and the zone's wall clock. */
export function describeOpening(w: Window, at: Date): string {
  const local = new Intl.DateTimeFormat('en-GB', {
    timeZone: w.timeZone,
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(at);
  return `${local} ${w.timeZone} (${at.toISOString()})`;
}

/** A --once-per for people: `forever` or the text given. */
export function oncePerText(seconds: number | null): string {
  if (seconds === null) return 'forever';
  for (const [unit, n] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}
