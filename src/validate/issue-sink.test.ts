import { describe, expect, it } from 'vitest';
import { IssueLog } from '../model/issue-log.js';
import { ExplainSink, LogSink } from './issue-sink.js';

const text = () => ({ message: 'm', hint: 'h' });
const column = { column: 'payload.variables.amount', columnIndex: 3 };

describe('issue sinks', () => {
  it('LogSink: an error marks the row (or, at record 0, the file); a warning marks nothing', () => {
    const sink = new LogSink(new IssueLog(10));
    sink.report('blank-row', { line: 2, record: 0 }, null, text);
    expect([sink.rowInvalid, sink.fileErrors]).toEqual([false, 0]);
    sink.report('invalid-number', { line: 3, record: 1 }, column, text);
    expect([sink.rowInvalid, sink.fileErrors]).toEqual([true, 0]);
    sink.report('duplicate-header', { line: 1, record: 0 }, null, text);
    expect(sink.fileErrors).toBe(1);
  });

  it('LogSink: counts every issue but builds the text only of those the log keeps', () => {
    const log = new IssueLog(1);
    const sink = new LogSink(log);
    let built = 0;
    const counted = () => {
      built++;
      return text();
    };
    for (let line = 2; line < 12; line++)
      sink.report('invalid-number', { line, record: line - 1 }, column, counted);
    expect(built).toBe(1);
    expect(log.errors).toBe(10);
  });

  it('ExplainSink: the row’s errors as `code (column)`, warnings left out', () => {
    const sink = new ExplainSink();
    sink.report('invalid-number', { line: 3, record: 1 }, column);
    sink.report('empty-target', { line: 3, record: 1 }, null);
    sink.report('blank-row', { line: 3, record: 0 }, null);
    expect(sink.errors).toEqual(['invalid-number (payload.variables.amount)', 'empty-target']);
    expect(sink.rowInvalid).toBe(true);
  });
});
