/** report.md: a short summary a person can act on, outcome first. */
import type { Report } from '../model/report.js';
import { reportView, type Table } from './report-view.js';

export { summaryLine } from './report-view.js';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function table(t: Table): string[] {
  return [
    `| ${t.columns.map((c) => cell(c.title)).join(' | ')} |`,
    `|${t.columns.map((c) => (c.numeric ? '---:' : '---')).join('|')}|`,
    ...t.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
  ];
}

export function renderMarkdown(report: Report): string {
  const view = reportView(report);
  const out: string[] = [
    `# ${view.title}`,
    '',
    `**${view.summary}**`,
    '',
    `**Next step:** ${view.nextStep}`,
    '',
  ];
  out.push(...table(view.overview));
  out.push('## Rows', '', ...table(view.rows));
  if (view.fileProblems !== null)
    out.push(
      '## Header and file problems',
      '',
      'These stop the file from being sent at all.',
      '',
      ...table(view.fileProblems),
    );
  if (view.issues !== null) {
    out.push(`## ${view.issuesTitle}`, '', ...table(view.issues));
    if (view.issuesNote !== null) out.push(view.issuesNote, '');
  }
  if (view.parts !== null) out.push('## Parts', '', ...table(view.parts));
  if (view.files.length > 0) out.push('## Files', '', ...view.files.map((f) => `- ${f}`), '');
  return out.join('\n');
}
