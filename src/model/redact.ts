/**
 * Removes secrets from any text that may be printed, logged or written to a report:
 * known secret values (the client secret, access tokens), presigned URL query strings,
 * Authorization headers, and signature, credential and policy fields in JSON, form or
 * S3 XML bodies. Everything that leaves the process through a message passes here.
 */

const MASK = '[redacted]';
const known = new Set<string>();

/** Remembers a secret value so that it is masked wherever it appears. */
export function registerSecret(value: string | undefined | null): void {
  if (value !== undefined && value !== null && value.length >= 4) known.add(value);
}

const SECRET_FIELDS =
  'access_token|id_token|refresh_token|client_secret|token|policy|signature|x-amz-signature|x-amz-credential|x-amz-security-token|awsaccesskeyid|x-amz-algorithm|x-amz-date';

const PATTERNS: [RegExp, string][] = [
  // Query strings of URLs: presigned URLs carry credentials and signatures there.
  [/(https?:\/\/[^\s"'<>?#]+)\?[^\s"'<>]*/gi, `$1?${MASK}`],
  // Authorization header values.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${MASK}`],
  // "field": "value", field=value, field: value
  [new RegExp(`("?(?:${SECRET_FIELDS})"?\\s*[:=]\\s*"?)[^"&\\s,}<]+`, 'gi'), `$1${MASK}`],
  // S3 XML error details that echo signing material.
  [
    /<(StringToSign|StringToSignBytes|SignatureProvided|CanonicalRequest|CanonicalRequestBytes|AWSAccessKeyId|Policy)>[^<]*<\/\1>/g,
    `<$1>${MASK}</$1>`,
  ],
];

export function redact(text: string): string {
  let out = text;
  for (const secret of known) out = out.split(secret).join(MASK);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** A URL without its query string and fragment, safe to show. */
export function safeUrl(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/** What went wrong on the wire (timeout, reset, refused), without URLs' secrets. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'the request timed out';
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code) return `network error ${cause.code}`;
    return redact(error.message);
  }
  return 'network error';
}

/**
 * Text fit for a terminal: control characters (escape sequences, carriage returns, bidi
 * overrides) and invisible format characters (zero-width spaces, byte-order marks) become
 * visible `\u{…}` escapes, so a hostile header name or server body cannot move the cursor,
 * recolour the screen or hide what follows, and an invisible character can be seen.
 */
export function printable(text: string): string {
  return text.replace(
    // C0 and C1 controls except tab, DEL, and the bidi embedding/override/isolate controls.
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`,
  );
}
