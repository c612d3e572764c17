import { describe, expect, it } from 'vitest';
import { shellWord } from './shell-word.js';

describe('shellWord', () => {
  it('leaves plain words alone and single-quotes the rest, apostrophes included', () => {
    expect(shellWord('exports/part-0001.csv.gz')).toBe('exports/part-0001.csv.gz');
    expect(shellWord('s3://bucket/prefix/')).toBe('s3://bucket/prefix/');
    expect(shellWord('my export/*.csv')).toBe("'my export/*.csv'");
    expect(shellWord("O'Brien.csv")).toBe("'O'\\''Brien.csv'");
    expect(shellWord('$(rm -rf ~)')).toBe("'$(rm -rf ~)'");
  });
});
