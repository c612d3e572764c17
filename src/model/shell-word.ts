/**
 * A value as one word of a POSIX shell command, for the commands the tool suggests
 * ("Send it with: atomic-bulk send …"): left as it is when plainly safe, else in single
 * quotes, so a path with spaces or a quoted glob pastes back as the same argument.
 */
export function shellWord(value: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
