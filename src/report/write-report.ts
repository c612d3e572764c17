/** Writes report.json, report.md and report.html (and publishes them when the destination is S3). */
import type { Report } from '../model/report.js';
import { sealJson, type Sealer } from '../model/seal.js';
import type { ReportDir } from './report-dir.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-md.js';

/**
 * `sealer` seals report.json (send, reconcile and cancel, which have credentials), so a
 * later reconcile or cancel can tell the report, and the invocations.csv digest in it,
 * are what atomic-bulk wrote for this client (model/seal.ts).
 */
export async function writeReport(dir: ReportDir, report: Report, sealer?: Sealer): Promise<void> {
  await dir.write('report.md', `${renderMarkdown(report)}\n`);
  await dir.write('report.html', renderHtml(report));
  const json =
    sealer === undefined
      ? `${JSON.stringify(report, null, 2)}\n`
      : sealJson(sealer, 'report', report);
  await dir.write('report.json', json);
  await dir.publish();
}
