/**
 * The README's troubleshooting table quotes real messages: every fragment it puts in
 * backticks in the symptom column (split at "…") appears in the tool's sources.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}

describe('README troubleshooting', () => {
  it('quotes messages the tool really prints', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.split('## Troubleshooting')[1]?.split('\n## ')[0] ?? '';
    const code = sources(join(ROOT, 'src')).join('\n');
    const symptoms = table
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| symptom'))
      .map((l) => l.split(' | ')[0] ?? '');
    expect(symptoms.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const symptom of symptoms) {
      for (const quoted of symptom.matchAll(/`([^`]+)`/g)) {
        for (const piece of (quoted[1] as string).split('…').map((p) => p.trim())) {
          // Short pieces (a status, a code) are not messages; long ones must exist as written,
          // allowing for values the code fills in (a number, a flag name).
          if (piece.length < 12) continue;
          // Words of the message, without punctuation; flags and a/b shorthands are values.
          const words = piece
            .replace(/[()?:,.]/g, ' ')
            .split(/\s+/)
            .filter((w) => w.length > 3 && !w.startsWith('--') && !w.includes('/'));
          if (!words.every((w) => code.includes(w))) missing.push(piece);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
