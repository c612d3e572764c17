/**
 * The uploader's pure parts: how an S3 answer is classified (expiry means a new URL,
 * never a retry of this one; a tampered field is a refusal), and the multipart framing
 * (fields first, the file last, names quoted the way browsers do).
 */
import { describe, expect, it } from 'vitest';
import { isExpiry, multipartFraming, s3Error } from './uploader.js';

const xml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

describe('S3 answers', () => {
  it('reads the code and message of an S3 error body', () => {
    expect(s3Error(xml('AccessDenied', 'Request has expired'))).toEqual({
      code: 'AccessDenied',
      message: 'Request has expired',
    });
    expect(s3Error('not xml')).toEqual({ code: null, message: null });
  });

  it.each([
    [403, xml('AccessDenied', 'Invalid according to Policy: Policy expired.'), false, true],
    [403, xml('AccessDenied', 'Request has expired'), false, true],
    [400, xml('ExpiredToken', 'The provided token has expired.'), false, true],
    [403, xml('RequestExpired', 'x'), false, true],
    // A denial after our clock passed the URL's expiry: expiry, whatever S3 calls it.
    [403, xml('AccessDenied', 'Access Denied'), true, true],
    // A tampered or wrong signature is not expiry: a new URL would not fix it.
    [
      403,
      xml('SignatureDoesNotMatch', 'The request signature we calculated does not match'),
      false,
      false,
    ],
    [
      403,
      xml('AccessDenied', 'Invalid according to Policy: Extra input fields: acl'),
      false,
      false,
    ],
    [
      400,
      xml('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'),
      true,
      false,
    ],
    [500, xml('InternalError', 'expired'), true, false],
  ])('status %i %s (past expiry: %s) is expiry: %s', (status, body, pastExpiry, expected) => {
    expect(isExpiry(status, body, pastExpiry)).toBe(expected);
  });
});

describe('multipart framing', () => {
  it('puts every field first, in order, and the file last, with a random boundary', () => {
    const a = multipartFraming(
      [
        ['key', 'csv-tasks/x.csv'],
        ['Policy', 'eyJ9'],
      ],
      'part-0001.csv',
    );
    const boundary = /boundary=(.+)$/.exec(a.contentType)?.[1] ?? '';
    expect(boundary).toMatch(/^----atomic-bulk-[0-9a-f]{32}$/);
    const head = a.head.toString();
    expect(head.indexOf('name="key"')).toBeLessThan(head.indexOf('name="Policy"'));
    expect(
      head.endsWith('name="file"; filename="part-0001.csv"\r\nContent-Type: text/csv\r\n\r\n'),
    ).toBe(true);
    expect(a.tail.toString()).toBe(`\r\n--${boundary}--\r\n`);
    expect(multipartFraming([], 'x').contentType).not.toBe(a.contentType);
  });

  it('quotes names as browsers do, so a field name cannot break the framing', () => {
    const { head } = multipartFraming([['a"b\r\nX-Evil: 1', 'v']], 'f"\r\n.csv');
    const text = head.toString();
    expect(text).toContain('name="a%22b%0D%0AX-Evil: 1"');
    expect(text).toContain('filename="f%22%0D%0A.csv"');
    expect(text).not.toContain('\r\nX-Evil');
  });
});
