/**
 * Formula neutralisation for CSV files people open (OWASP, "CSV Injection"), and its
 * exact inverse for reading such a file back.
 *
 * Written: a cell that begins with = + - @, a tab or a carriage return — what Excel,
 * LibreOffice and Google Sheets start a formula with — gets a leading apostrophe, unless
 * it is a plain number such as -5 or +3.25 (which no spreadsheet runs). A cell that
 * begins with an apostrophe gets one more, so the rule is reversible.
 *
 * Read back (a rejected.csv, recognised by its trailing `_line`,`_errors` columns): one
 * leading apostrophe is removed from every cell that has one. Every cell, formula or not,
 * comes back exactly as the user wrote it.
 */

const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', "'"]);
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function neutralise(value: string): string {
  if (value === '' || !TRIGGERS.has(value[0] as string)) return value;
  if (value[0] !== "'" && PLAIN_NUMBER.test(value)) return value;
  return `'${value}`;
}

/** The inverse of `neutralise`, for one cell's text. */
export function restore(value: string): string {
  return value.startsWith("'") ? value.slice(1) : value;
}

/** The apostrophe byte whose removal `restore` performs, when reading bytes. */
export const APOSTROPHE = 0x27;
