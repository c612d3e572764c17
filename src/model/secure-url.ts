/**
 * The https rule (decisions.md, "Transport rules"): URLs that carry credentials or
 * personal data must be https, except on loopback, where nothing leaves the machine.
 */
import { isIP } from 'node:net';
import { AtomicBulkError } from './errors.js';

/** Hosts that never leave the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const type = isIP(host);
  if (type === 4) return host.startsWith('127.');
  if (type === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** A usage error unless `url` is https, or http on a loopback host. */
export function requireSecureUrl(
  name: string,
  url: string,
  why = 'Over http the client secret and access tokens would cross the network in clear text.',
): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AtomicBulkError('CONFIG', `${name} is not a URL.`);
  }
  if (parsed.username !== '' || parsed.password !== '')
    throw new AtomicBulkError('CONFIG', `${name} must not carry a user name or password.`, {
      hint: 'Credentials belong in ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET.',
    });
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return;
  throw new AtomicBulkError(
    'CONFIG',
    `${name} must be an https:// URL (http:// is accepted only for 127.0.0.1, ::1 and localhost).`,
    { hint: why },
  );
}
