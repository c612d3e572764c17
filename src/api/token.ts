/**
 * OAuth2 client-credentials tokens (SPEC 1.1): requested with the grant in the query
 * string (and, for Cognito's sake, the form body too) and Basic auth, cached until 60 s
 * before expiry, shared by concurrent callers, and invalidated on a 401 from the API.
 */
import { AtomicBulkError } from '../model/errors.js';
import { registerSecret } from '../model/redact.js';
import { bodyDetail, type Http, type HttpResponse } from './http.js';

export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

/** Refresh this long before the token expires (a quarter of its life, for short-lived ones). */
export const REFRESH_EARLY_MS = 60_000;

export class TokenProvider {
  private cached: { token: string; refreshAtMs: number } | null = null;
  private inFlight: Promise<string> | null = null;
  /** Tokens fetched so far (for tests and diagnostics). */
  fetched = 0;

  constructor(
    private readonly credentials: ClientCredentials,
    private readonly http: Http,
    private readonly now: () => number = Date.now,
  ) {
    registerSecret(credentials.clientSecret);
  }

  /** A valid access token, from the cache when it has more than 60 s left. */
  async token(): Promise<string> {
    if (this.cached !== null && this.now() < this.cached.refreshAtMs) return this.cached.token;
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Forgets the cached token, after the API refused it. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = null;
  }

  private async fetch(): Promise<string> {
    const { tokenUrl, clientId, clientSecret } = this.credentials;
    const params = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId });
    const url = `${tokenUrl}${tokenUrl.includes('?') ? '&' : '?'}${params.toString()}`;
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    registerSecret(basic);
    const response = await this.http.send({
      method: 'POST',
      url,
      operation: 'POST token',
      headers: {
        Authorization: `Basic ${basic}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: params.toString(),
    });
    const token = readToken(response);
    registerSecret(token.token);
    this.cached = {
      token: token.token,
      refreshAtMs: this.now() + token.lifeMs - Math.min(REFRESH_EARLY_MS, token.lifeMs / 4),
    };
    this.fetched++;
    return token.token;
  }
}

/** The token endpoint's answer: the token and how long it lives, or why not. */
function readToken(response: HttpResponse): { token: string; lifeMs: number } {
  if (response.status === 400 || response.status === 401 || response.status === 403) {
    throw new AtomicBulkError(
      'AUTH',
      `The token endpoint refused the client credentials (HTTP ${response.status}).`,
      {
        status: response.status,
        operation: 'POST token',
        detail: bodyDetail(response.text),
        hint: 'Check ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET (an API client with the events role) and --token-url.',
      },
    );
  }
  if (response.status < 200 || response.status >= 300) {
    throw new AtomicBulkError('API', `The token endpoint answered HTTP ${response.status}.`, {
      status: response.status,
      detail: bodyDetail(response.text),
      hint: 'Check --token-url; if it is right, try again later.',
    });
  }
  let body: { access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(response.text) as typeof body;
  } catch {
    throw new AtomicBulkError(
      'API',
      'The token endpoint answered with something that is not JSON.',
      { hint: 'Check --token-url.' },
    );
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw new AtomicBulkError('API', 'The token endpoint answered without an access_token.', {
      hint: 'Check --token-url.',
    });
  }
  const lifeMs =
    (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
  return { token: body.access_token, lifeMs };
}
