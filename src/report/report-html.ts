/**
 * report.html: the same content as report.md for people who would rather look than read,
 * in one self-contained file (inline CSS and SVG, no scripts, nothing fetched), with a
 * bar chart of issues by code and of parts by status.
 */
import type { Report } from '../model/report.js';
import { reportView, type ReportView, type Table } from './report-view.js';

const COLORS = {
  error: '#c62828',
  warning: '#ef6c00',
  uploaded: '#2e7d32',
  failed: '#c62828',
  uploading: '#1565c0',
  pending: '#757575',
} as const;
const OUTCOME_COLORS: Record<ReportView['outcome'], string> = {
  success: '#2e7d32',
  partial: '#ef6c00',
  invalid: '#c62828',
  failed: '#c62828',
  interrupted: '#757575',
};

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function table(t: Table): string {
  const align = (i: number) => (t.columns[i]?.numeric === true ? ' class="num"' : '');
  const head = t.columns.map((c, i) => `<th${align(i)}>${escapeHtml(c.title)}</th>`).join('');
  const body = t.rows
    .map((row) => `<tr>${row.map((c, i) => `<td${align(i)}>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A horizontal bar chart as inline SVG; bars scale to the largest value. */
function barChart(title: string, bars: { label: string; value: number; color: string }[]): string {
  if (bars.length === 0) return '';
  const rowHeight = 22;
  const labelWidth = 200;
  const barWidth = 320;
  const max = Math.max(...bars.map((b) => b.value));
  const height = bars.length * rowHeight + 8;
  const rows = bars
    .map((b, i) => {
      const y = 4 + i * rowHeight;
      const w = Math.max(2, Math.round((b.value / max) * barWidth));
      return (
        `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(b.label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" fill="${b.color}"><title>${escapeHtml(`${b.label}: ${b.value}`)}</title></rect>` +
        `<text x="${labelWidth + w + 6}" y="${y + 15}">${b.value}</text>`
      );
    })
    .join('\n');
  return (
    `<figure><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg role="img" aria-label="${escapeHtml(title)}" width="${labelWidth + barWidth + 80}" height="${height}" viewBox="0 0 ${labelWidth + barWidth + 80} ${height}" xmlns="http://www.w3.org/2000/svg">\n${rows}\n</svg></figure>`
  );
}

export function renderHtml(report: Report): string {
  const view = reportView(report);
  const sections: string[] = [];
  sections.push(
    `<p class="outcome" style="border-color:${OUTCOME_COLORS[view.outcome]}"><strong>${escapeHtml(view.summary)}</strong></p>`,
  );
  sections.push(`<p><strong>Next step:</strong> ${escapeHtml(view.nextStep)}</p>`);
  sections.push(table(view.overview));
  sections.push('<h2>Rows</h2>', table(view.rows));
  const charts =
    barChart(
      'Issues by code',
      view.issueChart.map((b) => ({ ...b, color: COLORS[b.severity] })),
    ) +
    barChart(
      'Parts by status',
      view.partChart.map((b) => ({ ...b, color: COLORS[b.label] })),
    );
  if (charts !== '') sections.push(`<div class="charts">${charts}</div>`);
  if (view.fileProblems !== null)
    sections.push(
      '<h2>Header and file problems</h2>',
      '<p>These stop the file from being sent at all.</p>',
      table(view.fileProblems),
    );
  if (view.issues !== null) {
    sections.push(`<h2>${escapeHtml(view.issuesTitle)}</h2>`, table(view.issues));
    if (view.issuesNote !== null) sections.push(`<p>${escapeHtml(view.issuesNote)}</p>`);
  }
  if (view.parts !== null) sections.push('<h2>Parts</h2>', table(view.parts));
  for (const section of view.after)
    sections.push(`<h2>${escapeHtml(section.title)}</h2>`, table(section.table));
  if (view.files.length > 0)
    sections.push(
      '<h2>Files</h2>',
      `<ul>${view.files.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`,
    );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(view.title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212121; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.outcome { border-left: 6px solid; padding: .4em .8em; background: #fafafa; font-size: 1.1em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #e0e0e0; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 2em; } figure { margin: .5em 0; } figcaption { font-weight: 600; margin-bottom: .3em; }
svg text { font: 12px system-ui, sans-serif; fill: #212121; }
</style>
</head>
<body>
<h1>${escapeHtml(view.title)}</h1>
${sections.join('\n')}
</body>
</html>
`;
}
