/** Writes report.json, report.md and report.html (and publishes them when the destination is S3). */
import type { Report } from '../model/report.js';
import type { ReportDir } from './report-dir.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-md.js';

export async function writeReport(dir: ReportDir, report: Report): Promise<void> {
  await dir.write('report.md', `${renderMarkdown(report)}\n`);
  await dir.write('report.html', renderHtml(report));
  await dir.write('report.json', `${JSON.stringify(report, null, 2)}\n`);
  await dir.publish();
}
