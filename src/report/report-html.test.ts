import { describe, expect, it } from 'vitest';
import type { Issue } from '../model/issue.js';
import type { PartReport, Report } from '../model/report.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-md.js';

function part(number: number, status: PartReport['status']): PartReport {
  return {
    number,
    rows: 10,
    bytes: 900,
    sha256: 'ab'.repeat(32),
    firstLine: number * 10 - 8,
    lastLine: number * 10 + 1,
    status,
    attempts: 1,
    taskId: `task-${number}`,
    uploadMs: 12,
    error: status === 'failed' ? 'HTTP 503 SlowDown' : null,
    file: null,
    previouslyUploaded: false,
  };
}

function issue(code: Issue['code'], line: number, column: string | null): Issue {
  return {
    severity: code === 'duplicate-target' ? 'warning' : 'error',
    code,
    line,
    record: line - 1,
    column,
    columnIndex: column === null ? null : 2,
    message: `problem at ${line}`,
    hint: 'fix <it> & retry',
  };
}

const REPORT: Report = {
  schemaVersion: 2,
  tool: { name: 'atomic-bulk', version: '0.1.0' },
  command: 'send',
  runId: 'run-1',
  startedAt: '2026-11-23T00:00:00.000Z',
  finishedAt: '2026-11-23T00:00:02.000Z',
  durationMs: { total: 2000, validate: 500, split: 500, upload: 1000 },
  input: {
    source: 'campaign<1>.csv',
    bytes: 12345,
    sha256: 'cd'.repeat(32),
    bom: false,
    lineEndings: 'LF',
  },
  flow: { flowConfigId: 'renewal-reminder', version: 3, mode: 'live', source: 'api' },
  rows: { total: 40, valid: 37, invalid: 3, blank: 0, sent: 30, alreadySent: 0 },
  issueCounts: {
    errors: 3,
    warnings: 1,
    byCode: { 'invalid-number': 2, 'invalid-date': 1, 'duplicate-target': 1 },
  },
  issues: [
    issue('invalid-number', 3, '<script>alert(1)</script>'),
    issue('invalid-number', 9, 'amount'),
    issue('invalid-date', 12, 'renewalDate'),
    issue('duplicate-target', 20, null),
  ],
  issuesTruncated: false,
  parts: [part(1, 'uploaded'), part(2, 'uploaded'), part(3, 'uploaded'), part(4, 'failed')],
  destination: {
    apiOrigin: 'https://acme.customer-api.atomic.io',
    environmentId: 'env1',
    resumedFrom: null,
    sentInFullAt: null,
  },
  outcome: 'failed',
  exitCode: 3,
  dryRun: false,
  files: { rejected: 'rejected.csv', invocations: 'invocations.csv' },
  nextStep: 'Run the same command again to resume.',
};

describe('report.html', () => {
  const html = renderHtml(REPORT);

  it('opens with the same one-line outcome as report.md', () => {
    const summary =
      'Failed: 30 rows sent in 3 of the 4 parts cut so far; 37 of 40 rows valid. Exit code 3.';
    expect(html).toContain(
      `<p class="outcome" style="border-color:#c62828"><strong>${summary}</strong></p>`,
    );
    expect(renderMarkdown(REPORT)).toContain(`**${summary}**`);
  });

  it('charts issues by code and parts by status', () => {
    expect(html).toContain('<figcaption>Issues by code</figcaption>');
    expect(html).toContain('<title>invalid-number: 2</title>');
    expect(html).toContain('<title>duplicate-target: 1</title>');
    expect(html).toContain('<figcaption>Parts by status</figcaption>');
    expect(html).toContain('<title>uploaded: 3</title>');
    expect(html).toContain('<title>failed: 1</title>');
  });

  it('has the tables of report.md: rows, issues with example lines and hints, parts', () => {
    expect(html).toMatch(/<td class="num">40<\/td><td class="num">37<\/td><td class="num">3<\/td>/);
    expect(html).toContain(
      '<td>invalid-number</td><td class="num">2</td><td>line 3 (&lt;script&gt;alert(1)&lt;/script&gt;), line 9 (amount)</td><td>fix &lt;it&gt; &amp; retry</td>',
    );
    expect(html).toContain('<td>failed (HTTP 503 SlowDown)</td>');
    expect(html).toContain('<li>rejected.csv (rows to fix and send again)</li>');
  });

  it('is self-contained and escapes everything taken from the input', () => {
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
    expect(html).toContain('campaign&lt;1&gt;.csv');
    expect(html.match(/https?:\/\/[^"]+/g)).toEqual([
      'http://www.w3.org/2000/svg',
      'http://www.w3.org/2000/svg',
    ]);
  });
});

describe('report.md', () => {
  const hostile: Report = {
    ...REPORT,
    runId: 'run **bold** [x](https://evil.example/run)',
    input: { ...REPORT.input, source: 'in<img src=x onerror=alert(1)>.csv' },
    issues: [
      issue('invalid-number', 3, '<script>alert(1)</script>'),
      issue('invalid-number', 4, '![x](https://evil.example/beacon)'),
      issue('invalid-date', 5, 'a|b\n# heading\u001b[2J'),
    ],
    parts: [
      { ...part(1, 'failed'), taskId: '<iframe src=//evil.example>', error: '`code` _em_ ~~s~~' },
    ],
  };
  const md = renderMarkdown(hostile);

  it('escapes HTML, links, images, emphasis, table pipes, line breaks and escape sequences', () => {
    expect(md).not.toMatch(/<(script|img|iframe)/i);
    expect(md).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(md).toContain('!\\[x\\](https://evil.example/beacon)');
    expect(md).not.toMatch(/(?<!\\)\[x(?<!\\)\]\(/);
    expect(md).toContain('a\\|b # heading\\\\u{1b}\\[2J');
    expect(md).not.toContain('\u001b');
    expect(md).toContain('\\`code\\` \\_em\\_ \\~\\~s\\~\\~');
    // Every table row keeps its table's column count: no unescaped pipe came from the data.
    const pipes = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    let width = 0;
    for (const line of md.split('\n')) {
      if (!line.startsWith('|')) width = 0;
      else if (width === 0) width = pipes(line);
      else expect(pipes(line), line).toBe(width);
    }
  });

  it('leaves ordinary names readable: intraword underscores stay as they are', () => {
    expect(
      renderMarkdown({
        ...REPORT,
        issues: [issue('invalid-number', 3, 'target.attributes.atomic___id')],
      }),
    ).toContain('target.attributes.atomic___id');
  });
});
