/**
 * One NDJSON line of the analytics export read without building the event: the bytes are
 * walked once, checked as JSON, and only the top-level members an event is read by (its
 * name, time and flowInvocationId keys, and the flowInvocationId inside `properties`,
 * `payload` or `metadata`) are decoded, into a small object the tolerant reader takes as
 * it would the parsed event. A million events parsed whole are a gigabyte of objects for
 * the collector; scanned, they are a few strings each.
 *
 * The answer is the one JSON.parse would give for those members, or null when the line
 * is not for this path (not a JSON object, too deeply nested, not JSON at all): the
 * caller then parses it whole, so every line is judged by JSON.parse's rules in the end.
 */

/** The value of a member that is an object or an array (what it holds is not read). */
export const NESTED: Readonly<Record<string, never>> = Object.freeze({});

export type Scanned = Record<string, unknown>;

const HOLDERS = ['properties', 'payload', 'metadata'];
const ID = 'flowInvocationId';
const MAX_DEPTH = 64;

/** Keys by their bytes, grouped by length. */
class KeySet {
  private readonly byLength = new Map<number, { name: string; bytes: Buffer }[]>();
  constructor(names: readonly string[]) {
    for (const name of names) {
      const bytes = Buffer.from(name, 'latin1');
      const list = this.byLength.get(bytes.length) ?? [];
      list.push({ name, bytes });
      this.byLength.set(bytes.length, list);
    }
  }

  /** The key at `buf[start, end)` (no escapes in it), or null when it is none of these. */
  find(buf: Buffer, start: number, end: number): string | null {
    const list = this.byLength.get(end - start);
    if (list === undefined) return null;
    for (const { name, bytes } of list) if (same(buf, start, bytes)) return name;
    return null;
  }

  has(name: string): boolean {
    return (
      this.byLength.get(Buffer.byteLength(name, 'latin1'))?.some((k) => k.name === name) ?? false
    );
  }
}

/** Whether `buf` holds `bytes` at `start` (a loop: keys are short, a native call costs more). */
function same(buf: Buffer, start: number, bytes: Buffer): boolean {
  for (let k = 0; k < bytes.length; k++) if (buf[start + k] !== bytes[k]) return false;
  return true;
}

/** Thrown inside the scanner: the line is not for this path. */
const GIVE_UP = new Error('not scanned');

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Bytes that may follow a backslash in a JSON string (u is checked apart). */
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

export class EventScanner {
  private readonly top: KeySet;
  private readonly holders = new KeySet(HOLDERS);
  private readonly inner = new KeySet([ID]);
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;

  /** The texts of strings met often (event names): handed out as one string each, not decoded per line. */
  private readonly common: KeySet;

  constructor(keys: readonly string[], common: readonly string[] = []) {
    this.top = new KeySet([...keys, ID]);
    this.common = new KeySet(common);
  }

  /** The line's event members, or null (the caller parses the line whole). */
  scan(buf: Buffer, start: number, end: number): Scanned | null {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    try {
      this.space();
      const o = this.object(0, this.top, true);
      this.space();
      if (this.pos !== this.end) throw GIVE_UP;
      return o;
    } catch (error) {
      if (error === GIVE_UP) return null;
      throw error;
    }
  }

  private space(): void {
    const { buf, end } = this;
    let p = this.pos;
    while (p < end) {
      const c = buf[p] as number;
      if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
      p++;
    }
    this.pos = p;
  }

  private expect(c: number): void {
    if (this.pos >= this.end || this.buf[this.pos] !== c) throw GIVE_UP;
    this.pos++;
  }

  /**
   * An object at `pos`. With `keys`, the members named there are kept (the last of a
   * repeated key, as JSON.parse keeps); at the top, holders keep their flowInvocationId.
   */
  private object(depth: number, keys: KeySet | null, top: boolean): Scanned | null {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    this.expect(0x7b);
    const kept: Scanned | null = keys === null ? null : {};
    this.space();
    if (this.buf[this.pos] === 0x7d && this.pos < this.end) {
      this.pos++;
      return kept;
    }
    for (;;) {
      this.space();
      const key = this.key(keys, top);
      this.space();
      this.expect(0x3a);
      this.space();
      if (kept !== null && key !== null) kept[key.name] = this.member(depth, key.holder);
      else this.skipValue(depth + 1);
      this.space();
      if (this.pos >= this.end) throw GIVE_UP;
      const c = this.buf[this.pos++];
      if (c === 0x7d) return kept;
      if (c !== 0x2c) throw GIVE_UP;
    }
  }

  /** A member's key: which kept key it is, if any. */
  private key(keys: KeySet | null, top: boolean): { name: string; holder: boolean } | null {
    const { start, end, escaped } = this.string();
    if (keys === null) return null;
    if (escaped) {
      const name = JSON.parse(this.buf.toString('utf8', start - 1, end + 1)) as string;
      if (keys.has(name)) return { name, holder: false };
      return top && this.holders.has(name) ? { name, holder: true } : null;
    }
    const name = keys.find(this.buf, start, end);
    if (name !== null) return { name, holder: false };
    const holder = top ? this.holders.find(this.buf, start, end) : null;
    return holder === null ? null : { name: holder, holder: true };
  }

  /** A kept member's value: a scalar as JSON.parse gives it; NESTED for an object or array. */
  private member(depth: number, holder: boolean): unknown {
    const c = this.buf[this.pos];
    if (c === QUOTE) {
      const { start, end, escaped } = this.string();
      if (escaped) return JSON.parse(this.buf.toString('utf8', start - 1, end + 1));
      return this.common.find(this.buf, start, end) ?? this.buf.toString('utf8', start, end);
    }
    if (c === 0x7b) {
      if (holder) return this.object(depth + 1, this.inner, false);
      this.skipValue(depth + 1);
      return NESTED;
    }
    if (c === 0x5b) {
      this.skipValue(depth + 1);
      return NESTED;
    }
    return this.literal();
  }

  /** A string at `pos`: its contents' bounds, and whether a backslash is in them. */
  private string(): { start: number; end: number; escaped: boolean } {
    this.expect(QUOTE);
    const { buf, end } = this;
    const start = this.pos;
    let p = start;
    let escaped = false;
    for (;;) {
      if (p >= end) throw GIVE_UP;
      const c = buf[p] as number;
      if (c === QUOTE) break;
      if (c < 0x20) throw GIVE_UP;
      if (c === BACKSLASH) {
        escaped = true;
        const e = buf[p + 1] as number;
        if (e === 0x75) {
          if (p + 5 >= end) throw GIVE_UP;
          for (let k = 2; k <= 5; k++) if (!isHex(buf[p + k] as number)) throw GIVE_UP;
          p += 6;
          continue;
        }
        if (p + 1 >= end || !ESCAPES.has(e)) throw GIVE_UP;
        p += 2;
        continue;
      }
      p++;
    }
    this.pos = p + 1;
    return { start, end: p, escaped };
  }

  /** Any value, checked and passed over. */
  private skipValue(depth: number): void {
    if (depth > MAX_DEPTH || this.pos >= this.end) throw GIVE_UP;
    const c = this.buf[this.pos];
    if (c === QUOTE) this.string();
    else if (c === 0x7b) this.object(depth, null, false);
    else if (c === 0x5b) this.array(depth);
    else this.literal();
  }

  private array(depth: number): void {
    this.expect(0x5b);
    this.space();
    if (this.pos < this.end && this.buf[this.pos] === 0x5d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.space();
      this.skipValue(depth + 1);
      this.space();
      if (this.pos >= this.end) throw GIVE_UP;
      const c = this.buf[this.pos++];
      if (c === 0x5d) return;
      if (c !== 0x2c) throw GIVE_UP;
    }
  }

  /** true, false, null or a number, by JSON's grammar. */
  private literal(): unknown {
    const { buf, end } = this;
    const start = this.pos;
    for (const [word, value] of WORDS) {
      if (
        end - start >= word.length &&
        buf.compare(word, 0, word.length, start, start + word.length) === 0
      ) {
        this.pos += word.length;
        return value;
      }
    }
    let p = start;
    if (buf[p] === 0x2d) p++;
    if (buf[p] === 0x30) p++;
    else p = this.digits(p, true);
    if (buf[p] === 0x2e) p = this.digits(p + 1, true);
    if (buf[p] === 0x65 || buf[p] === 0x45) {
      p++;
      if (buf[p] === 0x2b || buf[p] === 0x2d) p++;
      p = this.digits(p, true);
    }
    if (p > end) throw GIVE_UP;
    this.pos = p;
    return Number(buf.toString('latin1', start, p));
  }

  /** Past a run of digits from `p` (at least one when `needed`). */
  private digits(p: number, needed: boolean): number {
    const { buf, end } = this;
    let q = p;
    while (q < end && (buf[q] as number) >= 0x30 && (buf[q] as number) <= 0x39) q++;
    if (needed && q === p) throw GIVE_UP;
    return q;
  }
}

const WORDS: [Buffer, unknown][] = [
  [Buffer.from('true'), true],
  [Buffer.from('false'), false],
  [Buffer.from('null'), null],
];
