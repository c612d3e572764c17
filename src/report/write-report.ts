/** Writes report.json and report.md (and publishes them when the destination is S3). */
import type { Report } from '../model/report.js';
import type { ReportDir } from './report-dir.js';
import { renderMarkdown } from './report-md.js';

export async function writeReport(dir: ReportDir, report: Report): Promise<void> {
  await dir.write('report.md', `${renderMarkdown(report)}\n`);
  await dir.write('report.json', `${JSON.stringify(report, null, 2)}\n`);
  await dir.publish();
}
