/**
 * Texts for row-level issues. A message names the column and what was expected, plus a
 * description of the cell's shape from the check ("uses a comma"); it never quotes the
 * cell, because campaign files are personal data.
 */
import type { IssueCode } from '../model/issue.js';

interface Text {
  message: string;
  hint: string;
}

type Template = (column: string, reason: string) => Text;

const TEMPLATES: Partial<Record<IssueCode, Template>> = {
  'required-value-missing': (c) => ({
    message: `${c} is empty, but the flow requires a value in every row.`,
    hint: 'Fill in the value, or remove the row.',
  }),
  'invalid-number': (c, r) => ({
    message: `${c} must be a number (digits, optional minus sign, dot for decimals); this cell ${r}.`,
    hint: 'Write numbers like 1234.5 or -3 with no thousands separators, currency signs or spaces.',
  }),
  'invalid-date': (c, r) => ({
    message: `${c} must be a date YYYY-MM-DD, optionally with Thh:mm[:ss] and a zone; this cell ${r}.`,
    hint: 'Example: 2026-12-31 or 2026-12-31T09:30:00Z. Format the column as text before exporting from a spreadsheet.',
  }),
  'invalid-enum': (c, r) => ({
    message: `${c} must be one of the flow's values; this cell ${r}.`,
    hint: 'Use one of the listed values exactly, with the same letter case.',
  }),
  'invalid-boolean': (c, r) => ({
    message: `${c} must be true or false; this cell ${r}.`,
    hint: 'Write exactly true or false in lowercase.',
  }),
  'invalid-priority': (c, r) => ({
    message: `${c} must be a whole number from 1 to 10; this cell ${r}.`,
    hint: 'Use 1 (top of the stream) to 10.',
  }),
  'invalid-timestamp': (c, r) => ({
    message: `${c} must be an ISO 8601 date-time with a zone; this cell ${r}.`,
    hint: 'Example: 2026-12-31T23:59:00Z or 2026-12-31T23:59:00+10:00.',
  }),
  'invalid-duration': (c, r) => ({
    message: `${c} must be a non-zero ISO 8601 duration; this cell ${r}.`,
    hint: 'Examples: PT30M (30 minutes), P2D (2 days), P1W (1 week).',
  }),
  'invalid-platform': (c, r) => ({
    message: `${c} must list platforms from Web, iOS, Android separated by |; this cell ${r}.`,
    hint: 'Example: iOS|Android. Each platform at most once, spelled exactly.',
  }),
  'invalid-stream-ids': (c, r) => ({
    message: `${c} must be stream ids separated by |; this cell ${r}.`,
    hint: 'Example: stream-a|stream-b, with no empty ids and no spaces around them.',
  }),
  'invalid-invocation-id': (c, r) => ({
    message: `${c} must be 1–128 characters: a letter or digit, then letters, digits and . _ : - only; this cell ${r}.`,
    hint: 'Use ids such as order-2026-0001, or leave the cell empty and atomic-bulk assigns one.',
  }),
  'embargo-after-expires': (c) => ({
    message: `${c} is not before payload.cardOptions.expires, so the card would never be visible.`,
    hint: 'Set the embargo earlier than the expiry, or clear one of them.',
  }),
  'expires-in-past': (c) => ({
    message: `${c} is already in the past; the card will expire as soon as it is sent.`,
    hint: 'Check the expiry date, or leave the cell empty to use the flow default.',
  }),
  'empty-target': () => ({
    message:
      'Every target.attributes column is empty in this row, so it does not say which user to send to.',
    hint: 'Fill in the user id (target.attributes.atomic___id), or remove the row.',
  }),
  'empty-campaign-key': () => ({
    message:
      'Every --campaign-key column is empty in this row, so the campaign cannot tell whether this user was sent to already.',
    hint: 'Fill in the key (by default target.attributes.atomic___id), or remove the row.',
  }),
  'target-whitespace': (c) => ({
    message: `${c} has spaces before or after the value, so it would not match the user's profile.`,
    hint: 'Remove the surrounding spaces.',
  }),
};

/** Message and hint for a cell- or row-level issue. */
export function rowIssueText(code: IssueCode, column: string, reason: string | null): Text {
  const template = TEMPLATES[code];
  if (template !== undefined) return template(column, reason ?? 'is not valid');
  return { message: `${column}: ${reason ?? code}.`, hint: '' };
}
