/**
 * Characters in header names that a person cannot see or tell apart: zero-width and
 * other format characters, byte-order marks, non-ASCII spaces, bidi controls and control
 * characters. A header holding one looks right in every editor and still names another
 * field, so each is reported by its code point and name (decisions.md, "Invisible and
 * look-alike headers").
 */

const NAMES: Record<number, string> = {
  0x00a0: 'NO-BREAK SPACE',
  0x00ad: 'SOFT HYPHEN',
  0x061c: 'ARABIC LETTER MARK',
  0x1680: 'OGHAM SPACE MARK',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x2000: 'EN QUAD',
  0x2001: 'EM QUAD',
  0x2002: 'EN SPACE',
  0x2003: 'EM SPACE',
  0x2004: 'THREE-PER-EM SPACE',
  0x2005: 'FOUR-PER-EM SPACE',
  0x2006: 'SIX-PER-EM SPACE',
  0x2007: 'FIGURE SPACE',
  0x2008: 'PUNCTUATION SPACE',
  0x2009: 'THIN SPACE',
  0x200a: 'HAIR SPACE',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x202f: 'NARROW NO-BREAK SPACE',
  0x205f: 'MEDIUM MATHEMATICAL SPACE',
  0x2060: 'WORD JOINER',
  0x2061: 'FUNCTION APPLICATION',
  0x2062: 'INVISIBLE TIMES',
  0x2063: 'INVISIBLE SEPARATOR',
  0x2064: 'INVISIBLE PLUS',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x3000: 'IDEOGRAPHIC SPACE',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE (byte-order mark)',
  0x0009: 'CHARACTER TABULATION (tab)',
  0x000a: 'LINE FEED',
  0x000d: 'CARRIAGE RETURN',
};

function isInvisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    NAMES[cp] !== undefined ||
    (cp >= 0xfff9 && cp <= 0xfffb) ||
    (cp >= 0xe0000 && cp <= 0xe007f)
  );
}

/** `U+200B ZERO WIDTH SPACE` */
export function describeCodePoint(cp: number): string {
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  const name =
    NAMES[cp] ?? (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ? 'a control character' : null);
  return name === null ? `U+${hex}` : `U+${hex} ${name}`;
}

export interface InvisibleFinding {
  /** The first invisible character. */
  codePoint: number;
  /** Its 1-based position among the name's characters. */
  position: number;
  /** How many invisible characters the name holds. */
  count: number;
}

/** The invisible characters of a header name, or null when it has none. */
export function findInvisible(name: string): InvisibleFinding | null {
  let first: { codePoint: number; position: number } | null = null;
  let count = 0;
  let position = 0;
  for (const char of name) {
    position++;
    const cp = char.codePointAt(0) as number;
    if (!isInvisible(cp)) continue;
    count++;
    first ??= { codePoint: cp, position };
  }
  return first === null ? null : { ...first, count };
}

/** What makes two header names "the same" to a reader: Unicode composition and letter case. */
export function lookAlikeKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
