/**
 * report.md: a short summary a person can act on, outcome first. Every piece of text is
 * escaped: header names, run ids, file names and server task ids come from users and
 * servers, and a Markdown viewer must show them as text — never run `<script>`, load an
 * image `![x](https://…)`, follow a link or change the layout.
 */
import type { Report } from '../model/report.js';
import { printable } from '../model/redact.js';
import { reportView, type Table } from './report-view.js';

export { summaryLine } from './report-view.js';

/** Text as Markdown shows it literally: HTML and Markdown syntax escaped, one line. */
export function md(text: string): string {
  return (
    printable(text.replace(/\r\n|[\r\n]/g, ' '))
      .replace(/[\\`*[\]|~]/g, (c) => `\\${c}`)
      // An underscore inside a word (atomic___id) cannot start emphasis; others can.
      .replace(/(?<![A-Za-z0-9_])_|_(?![A-Za-z0-9_])/g, '\\_')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
  );
}

function cell(text: string): string {
  return md(text);
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
    `# ${md(view.title)}`,
    '',
    `**${md(view.summary)}**`,
    '',
    `**Next step:** ${md(view.nextStep)}`,
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
    out.push(`## ${md(view.issuesTitle)}`, '', ...table(view.issues));
    if (view.issuesNote !== null) out.push(md(view.issuesNote), '');
  }
  if (view.parts !== null) out.push('## Parts', '', ...table(view.parts));
  for (const section of view.after)
    out.push(`## ${md(section.title)}`, '', ...table(section.table));
  if (view.files.length > 0) out.push('## Files', '', ...view.files.map((f) => `- ${md(f)}`), '');
  return out.join('\n');
}
