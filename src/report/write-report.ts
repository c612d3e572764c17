/** Writes report.json, report.md and report.html (and publishes them when the destination is S3). */
import type { ReportNotifier } from '../model/notify.js';
import type { Report } from '../model/report.js';
import { sealJson, type Sealer } from '../model/seal.js';
import type { ReportDir } from './report-dir.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-md.js';

/**
 * `sealer` seals report.json (send, reconcile and cancel, which have credentials), so a
 * later reconcile or cancel can tell the report, and the invocations.csv digest in it,
 * are what atomic-bulk wrote for this client (model/seal.ts). `notifier` (--notify) tells
 * the command's end before the files are written, and the report records how that went.
 */
export async function writeReport(
  dir: ReportDir,
  given: Report,
  sealer?: Sealer,
  notifier?: ReportNotifier,
): Promise<void> {
  // The notifications go out first, so the report records how each went (SPEC 9).
  const report =
    notifier === undefined
      ? given
      : { ...given, notifications: await notifier.notify(given, dir.location) };
  await dir.write('report.md', `${renderMarkdown(report)}\n`);
  await dir.write('report.html', renderHtml(report));
  const json =
    sealer === undefined
      ? `${JSON.stringify(report, null, 2)}\n`
      : sealJson(sealer, 'report', report);
  await dir.write('report.json', json);
  await dir.publish();
}
