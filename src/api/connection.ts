/**
 * Connection settings (SPEC 1.2, 3): the base URL from the Workbench, the environment
 * id, the token URL, and the client credentials, which come only from the environment.
 */
import { AtomicBulkError } from '../model/errors.js';
import { requireSecureUrl } from './transport.js';

export const DEFAULT_TOKEN_URL =
  'https://master-atomic-io.auth.us-east-1.amazoncognito.com/oauth2/token';

export interface ConnectionSettings {
  /** e.g. https://{orgId}.customer-api.atomic.io, without a trailing slash. */
  baseUrl: string;
  environmentId: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface ConnectionInput {
  baseUrl?: string;
  environmentId?: string;
  tokenUrl?: string;
}

/** Resolves flags over environment variables; says everything that is missing at once. */
export function resolveConnection(
  flags: ConnectionInput,
  env: NodeJS.ProcessEnv,
): ConnectionSettings {
  const baseUrl = flags.baseUrl ?? env.ATOMIC_BASE_URL;
  const environmentId = flags.environmentId ?? env.ATOMIC_ENVIRONMENT_ID;
  const tokenUrl = flags.tokenUrl ?? env.ATOMIC_TOKEN_URL ?? DEFAULT_TOKEN_URL;
  const clientId = env.ATOMIC_CLIENT_ID;
  const clientSecret = env.ATOMIC_CLIENT_SECRET;
  const missing = [
    baseUrl ? null : '--base-url or ATOMIC_BASE_URL',
    environmentId ? null : '--environment or ATOMIC_ENVIRONMENT_ID',
    clientId ? null : 'ATOMIC_CLIENT_ID',
    clientSecret ? null : 'ATOMIC_CLIENT_SECRET',
  ].filter((m): m is string => m !== null);
  if (missing.length > 0) {
    throw new AtomicBulkError('CONFIG', `Missing connection settings: ${missing.join(', ')}.`, {
      hint: 'Set them (the client secret only in the environment), or try the local sandbox with --sandbox.',
    });
  }
  for (const [name, url] of [
    ['--base-url', baseUrl],
    ['--token-url', tokenUrl],
  ] as const) {
    if (!/^https?:\/\/[^/\s]+/i.test(url as string)) {
      throw new AtomicBulkError('CONFIG', `${name} is not an http(s) URL.`, {
        hint: 'Copy the API base URL from the Workbench.',
      });
    }
    requireSecureUrl(name, url as string);
  }
  return {
    baseUrl: (baseUrl as string).replace(/\/+$/, ''),
    environmentId: environmentId as string,
    tokenUrl,
    clientId: clientId as string,
    clientSecret: clientSecret as string,
  };
}
