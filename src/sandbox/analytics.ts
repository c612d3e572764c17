/**
 * The sandbox's analytics events and their hourly export (SPEC 6.1): every card the
 * sandbox makes, errors or cancels leaves an event carrying the flowInvocationId that
 * created it, appended to one NDJSON file per export period ("hour", shorter in tests).
 * `GET /v1/{env}/analytics/batched?from=&to=&format=` lists the periods that have ended
 * at least `delayMs` ago, each with a download URL signed for 15 minutes; the download
 * route checks the signature and the expiry, and serves the period as NDJSON or CSV.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sameToken } from './http.js';

export const ANALYTICS_EVENTS = [
  'card-published',
  'card-error',
  'card-cancelled',
  'card-expired',
  'card-embargoed',
  'card-displayed',
  'card-completed',
  'card-dismissed',
] as const;
export type AnalyticsEventName = (typeof ANALYTICS_EVENTS)[number];

export interface AnalyticsEvent {
  name: AnalyticsEventName;
  flowInvocationId: string;
  userId: string;
  cardInstanceId: string | null;
  cardTemplateId: string | null;
  at: number;
}

export interface AnalyticsOptions {
  /** Length of one export period, in ms. Default one hour, as Atomic's. */
  hourMs?: number;
  /** A period is listed this long after it ends. Default 5 minutes (Atomic: at most an hour). */
  delayMs?: number;
}

/** Download URLs are valid this long (SPEC 6.1). */
export const DOWNLOAD_TTL_MS = 15 * 60 * 1000;
/** A request spans at most this long (SPEC 6.1). */
export const MAX_SPAN_MS = 30 * 24 * 3600 * 1000;
export const CSV_HEADER =
  'analyticsEvent,timestamp,userId,flowInvocationId,cardInstanceId,cardTemplateId';
const FLUSH_BYTES = 256 * 1024;

export interface ExportFile {
  from: string;
  to: string;
  format: 'ndjson' | 'csv';
  url: string;
  expiresAt: string;
}

export class AnalyticsLog {
  readonly hourMs: number;
  readonly delayMs: number;
  private readonly secret = randomBytes(32);
  private hour = -1;
  private pending: string[] = [];
  private pendingBytes = 0;
  events = 0;

  constructor(
    private readonly dir: string,
    readonly environmentId: string,
    options: AnalyticsOptions = {},
  ) {
    this.hourMs = options.hourMs ?? 3_600_000;
    this.delayMs = options.delayMs ?? 300_000;
  }

  record(event: AnalyticsEvent): void {
    const hour = Math.floor(event.at / this.hourMs);
    if (hour !== this.hour) this.flush();
    this.hour = hour;
    const line = `${JSON.stringify({
      id: randomUUID(),
      analyticsEvent: event.name,
      timestamp: new Date(event.at).toISOString(),
      environmentId: this.environmentId,
      userId: event.userId,
      properties: {
        flowInvocationId: event.flowInvocationId,
        cardInstanceId: event.cardInstanceId,
        cardTemplateId: event.cardTemplateId,
      },
    })}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.events++;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    appendFileSync(this.path(this.hour), this.pending.join(''), { mode: 0o600 });
    this.pending = [];
    this.pendingBytes = 0;
  }

  private path(hour: number): string {
    return join(this.dir, `events-${hour}.ndjson`);
  }

  private signature(hour: number, format: string, expires: number): string {
    return createHmac('sha256', this.secret)
      .update(`${hour}.${format}.${expires}`)
      .digest('base64url');
  }

  /** Periods one listing names at most (30 days of hours is 720). */
  static readonly MAX_FILES = 5000;

  /**
   * The periods overlapping [from, to) that ended `delayMs` ago, with signed download
   * URLs; a string saying why when the range holds more than MAX_FILES periods.
   */
  list(
    { from, to }: { from: number; to: number },
    format: 'ndjson' | 'csv',
    baseUrl: string,
    now = Date.now(),
  ): ExportFile[] | string {
    this.flush();
    const files: ExportFile[] = [];
    const first = Math.floor(from / this.hourMs);
    if (Math.min(to, now) / this.hourMs - first > AnalyticsLog.MAX_FILES)
      return `the range holds more than ${AnalyticsLog.MAX_FILES} periods; ask for a shorter one`;
    const expires = now + DOWNLOAD_TTL_MS;
    for (let hour = first; hour * this.hourMs < to; hour++) {
      const end = (hour + 1) * this.hourMs;
      if (end + this.delayMs > now) break;
      const query = `expires=${expires}&signature=${this.signature(hour, format, expires)}`;
      files.push({
        from: new Date(hour * this.hourMs).toISOString(),
        to: new Date(end).toISOString(),
        format,
        url: `${baseUrl}/analytics-export/${hour}.${format}?${query}`,
        expiresAt: new Date(expires).toISOString(),
      });
    }
    return files;
  }

  /** Serves a download; false when the URL is not one this log signed (or it expired). */
  async download(req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
    const match = /^\/analytics-export\/(\d{1,15})\.(ndjson|csv)$/.exec(url.pathname);
    const expires = Number(url.searchParams.get('expires'));
    const given = url.searchParams.get('signature') ?? '';
    if (match === null || req.method !== 'GET') return deny(res, 404, 'Not found');
    const hour = Number(match[1]);
    const format = match[2] as 'ndjson' | 'csv';
    if (!Number.isSafeInteger(expires) || !sameToken(given, this.signature(hour, format, expires)))
      return deny(res, 403, 'The signature does not match');
    if (expires <= Date.now()) return deny(res, 403, 'The download URL expired');
    if (hour === this.hour) this.flush();
    const path = this.path(hour);
    res.writeHead(200, {
      'Content-Type': format === 'csv' ? 'text/csv' : 'application/x-ndjson',
    });
    if (format === 'csv') res.write(`${CSV_HEADER}\n`);
    if (!existsSync(path)) {
      res.end();
      return 200;
    }
    if (format === 'ndjson') {
      await new Promise<void>((resolve, reject) => {
        const file = createReadStream(path);
        file.on('error', reject);
        res.on('close', () => {
          file.destroy();
          resolve();
        });
        file.pipe(res);
      });
      return 200;
    }
    const input = createReadStream(path);
    try {
      for await (const line of createInterface({ input })) {
        if (res.destroyed) break;
        // A client that goes away mid-download ends the wait too (no drain comes then).
        if (!res.write(csvLine(line)))
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.once('drain', done);
            res.once('close', done);
          });
      }
    } finally {
      input.destroy();
    }
    res.end();
    return 200;
  }
}

function deny(res: ServerResponse, status: number, message: string): number {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ message }));
  return status;
}

const quote = (v: unknown) => {
  const text = typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

function csvLine(json: string): string {
  const e = JSON.parse(json) as {
    analyticsEvent: string;
    timestamp: string;
    userId: string;
    properties: Record<string, unknown>;
  };
  const p = e.properties;
  return `${[e.analyticsEvent, e.timestamp, e.userId, p.flowInvocationId, p.cardInstanceId, p.cardTemplateId].map(quote).join(',')}\n`;
}
