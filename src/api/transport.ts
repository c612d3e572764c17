/**
 * What the tool trusts on the wire (decisions.md, "Transport rules"): https for the API,
 * the token endpoint and upload URLs, except on loopback; an upload URL that points into
 * a private, link-local or loopback network is refused unless the API itself is on
 * loopback (the sandbox); no response body is read past a limit.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';

export { isLoopbackHost, requireSecureUrl } from '../model/secure-url.js';

type Family = 'ipv4' | 'ipv6';
type AddressClass =
  'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

const RANGES: [AddressClass, string, number, Family][] = [
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  // Carrier-grade NAT, also used inside clouds.
  ['private', '100.64.0.0', 10, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'],
  // Cloud metadata services live here (169.254.169.254, fd00:ec2::254 aside).
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
];

const LISTS = new Map<AddressClass, BlockList>();
for (const [kind, network, prefix, family] of RANGES) {
  const list = LISTS.get(kind) ?? new BlockList();
  list.addSubnet(network, prefix, family);
  LISTS.set(kind, list);
}

/** What kind of network an IP address belongs to (IPv4-mapped IPv6 as its IPv4). */
export function classify(address: string, family: Family): AddressClass {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return classify(mapped[1] as string, 'ipv4');
  for (const [kind, list] of LISTS) if (list.check(address, family)) return kind;
  return 'public';
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Refuses, before any byte is sent, an upload URL that is not https or whose host is or
 * resolves to a non-public address — a csv-task response pointing the tool at a cloud
 * metadata service or an internal host. With the API itself on loopback (the sandbox, a
 * lab), any URL is accepted.
 */
export async function checkUploadUrl(
  url: string,
  apiIsLoopback: boolean,
  lookup: Lookup = systemLookup,
  what = "The csv-task response's upload URL",
): Promise<void> {
  if (apiIsLoopback) return;
  const refuse = (why: string) =>
    new AtomicBulkError('API', `${what} ${why}; nothing was sent.`, {
      fatal: true,
      hint: 'atomic-bulk uploads only to public https hosts. If this is a lab set-up, run the API on loopback.',
    });
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') throw refuse('is not https');
  if (parsed.username !== '' || parsed.password !== '') throw refuse('carries credentials');
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host);
    } catch {
      throw new AtomicBulkError(
        'API',
        `The upload host ${printable(host)} could not be resolved.`,
        { hint: 'Check the network and DNS, then run again (the send resumes).' },
      );
    }
  }
  for (const { address, family } of addresses) {
    const kind = classify(address, family === 6 ? 'ipv6' : 'ipv4');
    if (kind !== 'public')
      throw refuse(`points at a ${kind} address (${printable(host)} → ${address})`);
  }
}

/** The default limit of a response body from the API or the token endpoint. */
export const MAX_API_BODY_BYTES = 1 << 20;
/** Flow lists and configs may be large (thousands of variables). */
export const MAX_FLOW_BODY_BYTES = 64 << 20;
/** An S3 error body is a few hundred bytes; more is not read. */
export const MAX_UPLOAD_BODY_BYTES = 64 << 10;

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

/**
 * The body as text, refused (or, with `truncate`, cut) once it passes `maxBytes`:
 * a hostile or broken server cannot make the tool buffer gigabytes.
 */
export async function readBody(
  response: Response,
  maxBytes: number,
  what: string,
  truncate = false,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  const tooLarge = () =>
    new AtomicBulkError(
      'API',
      `${what}: the answer is larger than ${mib(maxBytes)}; it was not read.`,
      { status: response.status, operation: what, fatal: true },
    );
  if (!truncate && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > maxBytes) {
      await reader.cancel().catch(() => undefined);
      if (!truncate) throw tooLarge();
      chunks.push(value.subarray(0, maxBytes - size));
      size = maxBytes;
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
