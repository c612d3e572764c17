/**
 * Notifications at the end of `send`, `reconcile` and `cancel` (SPEC 9): what the report
 * writer asks of a notifier, and what it records of each notification in report.json.
 */
import type { NotificationRecord, Report } from './report.js';

export type { NotificationRecord };

/** Sends a report's summary; never throws: failures are returned, printed and recorded. */
export interface ReportNotifier {
  notify(report: Report, reportLocation: string): Promise<NotificationRecord[]>;
}
