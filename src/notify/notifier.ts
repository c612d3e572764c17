/**
 * `--notify URL` (SPEC 9): one POST of the command's summary (summary.ts) to each URL when
 * the command ends — after its report is complete, or when it stopped before it could write
 * one. Signed with HMAC-SHA-256 of the body in `X-Atomic-Bulk-Signature: sha256=<hex>` when
 * ATOMIC_BULK_NOTIFY_SECRET is set. The transport rules of the API apply (https except on
 * loopback, no redirect followed, the answer read at most 64 KiB, a timeout per attempt);
 * a failed notification is retried twice, then printed and recorded in report.json. It
 * never changes the command's exit code, and the URL's path (a Slack webhook's is its
 * secret) is never printed or recorded: only its origin.
 */
import { createHmac } from 'node:crypto';
import { Http } from '../api/http.js';
import { AtomicBulkError } from '../model/errors.js';
import type { NotificationRecord, ReportNotifier } from '../model/notify.js';
import type { Report } from '../model/report.js';
import { describeNetworkError, printable } from '../model/redact.js';
import type { RetryPolicy } from '../model/retry.js';
import { requireSecureUrl } from '../model/secure-url.js';
import { USER_AGENT } from '../version.js';
import { failureSummary, summaryOf, type NotifyCommand, type Summary } from './summary.js';

export const SIGNATURE_HEADER = 'X-Atomic-Bulk-Signature';
/** Attempts per notification, the first included, and their limits. */
export const NOTIFY_RETRY: RetryPolicy = {
  maxAttempts: 3,
  maxElapsedMs: 20_000,
  baseDelayMs: 500,
  maxDelayMs: 5_000,
};
const NOTIFY_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export interface NotifierOptions {
  command: NotifyCommand;
  urls: string[];
  /** Signs each body (ATOMIC_BULK_NOTIFY_SECRET); never sent. */
  secret?: string;
  /** Prints a line about a failed notification (stderr). */
  warn: (line: string) => void;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
}

/** The origin of a URL: what may be shown of a webhook. */
function originOf(url: string): string {
  return new URL(url).origin;
}

export class Notifier implements ReportNotifier {
  /** The exit code the last notification told, or null before any. */
  private toldExitCode: number | null = null;

  constructor(private readonly options: NotifierOptions) {
    for (const url of options.urls)
      requireSecureUrl(
        '--notify',
        url,
        'The summary names the run, its flow and counts; over http it would cross the network in clear text.',
      );
  }

  notify(report: Report, location: string): Promise<NotificationRecord[]> {
    return this.post(summaryOf(this.options.command, report, location, this.now()));
  }

  /**
   * Tells of a command that stopped on an error: before writing a report, or after its
   * report's notification went out but the report could not be written (exit 5) — unless
   * what was told already ends with this exit code (a failure report was written and told).
   */
  async notifyFailure(failure: { exitCode: number; message: string }): Promise<void> {
    if (this.toldExitCode === failure.exitCode) return;
    await this.post(failureSummary(this.options.command, failure, this.now()));
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private async post(summary: Summary): Promise<NotificationRecord[]> {
    this.toldExitCode = summary.exitCode;
    const body = JSON.stringify(summary);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.options.secret !== undefined && this.options.secret !== '')
      headers[SIGNATURE_HEADER] =
        `sha256=${createHmac('sha256', this.options.secret).update(body).digest('hex')}`;
    const records: NotificationRecord[] = [];
    for (const url of this.options.urls) records.push(await this.postOne(url, body, headers));
    return records;
  }

  private async postOne(
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<NotificationRecord> {
    const to = originOf(url);
    let attempts = 1;
    // No run signal: an interrupted command still says so.
    const http = new Http({
      userAgent: USER_AGENT,
      requestTimeoutMs: NOTIFY_TIMEOUT_MS,
      retry: { ...NOTIFY_RETRY, ...this.options.retry },
      onRetry: () => {
        attempts++;
      },
    });
    let record: NotificationRecord;
    try {
      const answer = await http.send({
        method: 'POST',
        url,
        headers,
        body,
        operation: 'notify',
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
      const ok = answer.status >= 200 && answer.status < 300;
      record = {
        to,
        ok,
        status: answer.status,
        attempts,
        error: ok ? null : `HTTP ${answer.status}`,
      };
    } catch (error) {
      const status = error instanceof AtomicBulkError ? (error.context.status ?? null) : null;
      const why =
        error instanceof AtomicBulkError && error.context.fatal === true
          ? `the receiver answered with a redirect (HTTP ${status ?? '3xx'}), which is not followed`
          : error instanceof AtomicBulkError
            ? error.message.replace(/^notify failed after \d+ attempts?: /, '').replace(/\.$/, '')
            : describeNetworkError(error);
      record = { to, ok: false, status, attempts, error: printable(why) };
    }
    if (!record.ok)
      this.options.warn(
        `Notification to ${to} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${record.error ?? ''}. The command's outcome is unchanged.`,
      );
    return record;
  }
}
