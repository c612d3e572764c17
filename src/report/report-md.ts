/** report.md: a short summary a person can act on, outcome first. */
import type { Report } from '../model/report.js';
import { topIssues } from './report.js';

const HEADLINES: Record<Report['outcome'], string> = {
  success: 'Success',
  invalid: 'Invalid input',
  partial: 'Partly sent',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

/** The outcome in one sentence, as printed at the end of a run and on top of report.md. */
export function summaryLine(report: Report): string {
  const { rows } = report;
  const head = `${HEADLINES[report.outcome]}:`;
  const valid = `${rows.valid} of ${rows.total} rows valid`;
  if (report.command === 'validate') {
    return rows.invalid === 0 && report.issueCounts.errors === 0
      ? `${head} all ${rows.total} rows are valid${warnings(report)}.`
      : `${head} ${plural(report.issueCounts.errors, "error")}; ${valid}.`;
  }
  if (report.command === 'split') return `${head} ${rows.valid} rows in ${report.parts.length} parts; ${valid}.`;
  if (report.dryRun) return `${head} dry run, nothing sent; ${valid}, ${report.parts.length} parts prepared.`;
  const uploaded = report.parts.filter((p) => p.status === 'uploaded').length;
  return `${head} ${rows.sent} rows sent in ${uploaded} of ${report.parts.length} parts; ${valid}.`;
}

function warnings(report: Report): string {
  const n = report.issueCounts.warnings;
  return n > 0 ? ` (${plural(n, 'warning')})` : '';
}

function cell(text: string | number | null): string {
  return String(text ?? '').replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function renderMarkdown(report: Report): string {
  const out: string[] = [];
  out.push(`# atomic-bulk ${report.command}: ${HEADLINES[report.outcome]}`, '');
  out.push(`**${summaryLine(report)}** Exit code ${report.exitCode}.`, '');
  out.push(`**Next step:** ${report.nextStep}`, '');
  out.push('| input | flow | run id | started | took |', '|---|---|---|---|---|');
  const flow = report.flow.flowConfigId === null ? '–' : `${report.flow.flowConfigId} (version ${report.flow.version ?? '?'}${report.flow.mode ? `, ${report.flow.mode}` : ''})`;
  out.push(`| ${cell(report.input.source)} (${report.input.bytes} bytes) | ${cell(flow)} | ${cell(report.runId ?? '–')} | ${report.startedAt} | ${(report.durationMs.total / 1000).toFixed(1)} s |`, '');
  const r = report.rows;
  out.push('## Rows', '', '| total | valid | invalid | blank lines | sent |', '|---:|---:|---:|---:|---:|');
  out.push(`| ${r.total} | ${r.valid} | ${r.invalid} | ${r.blank} | ${r.sent} |`, '');
  const fileIssues = report.issues.filter((i) => i.record === 0 && i.severity === 'error');
  if (fileIssues.length > 0) {
    out.push('## Header and file problems', '', 'These stop the file from being sent at all.', '');
    out.push('| line | column | problem | what to do |', '|---:|---|---|---|');
    for (const i of fileIssues.slice(0, 20)) {
      out.push(`| ${i.line} | ${cell(i.column ?? '–')} | ${cell(i.message)} | ${cell(i.hint)} |`);
    }
    out.push('');
  }
  const top = topIssues(report);
  if (top.length > 0) {
    out.push(`## Issues (${report.issueCounts.errors} errors, ${report.issueCounts.warnings} warnings)`, '');
    out.push('| code | count | example lines | what to do |', '|---|---:|---|---|');
    for (const t of top) {
      out.push(`| ${t.code} | ${t.count} | ${t.lines.join(', ') || '–'} | ${cell(t.sample?.hint || t.sample?.message || '')} |`);
    }
    out.push('');
    if (report.issuesTruncated) out.push(`Only the first ${report.issues.length} issues are listed in report.json; the counts are complete.`, '');
  }
  if (report.parts.length > 0) {
    out.push('## Parts', '', '| # | rows | bytes | lines | status | attempts | task id |', '|---:|---:|---:|---|---|---:|---|');
    for (const p of report.parts) {
      out.push(`| ${p.number} | ${p.rows} | ${p.bytes} | ${p.firstLine}–${p.lastLine} | ${p.status}${p.error ? ` (${cell(p.error)})` : ''} | ${p.attempts} | ${cell(p.taskId ?? '–')} |`);
    }
    out.push('');
  }
  const files = [report.files.rejected && `rejected.csv (rows to fix and send again)`, report.files.invocations && 'invocations.csv (line → flowInvocationId of every sent row)'].filter(Boolean);
  if (files.length > 0) out.push('## Files', '', ...files.map((f) => `- ${String(f)}`), '');
  return out.join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
