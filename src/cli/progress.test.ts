/**
 * The progress bar on a terminal tells the truth: while sending it counts bytes accepted,
 * so it is at 100 % only when the last part is, and retries show inside the bar rather
 * than as lines piling up above the summary. Rendered by cli-progress into a stream that
 * says it is a TTY.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

function fakeTerminal(): { stream: NodeJS.WriteStream; take: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const ok = (cb?: () => void) => {
    cb?.();
    return true;
  };
  Object.assign(stream, {
    isTTY: true,
    columns: 160,
    cursorTo: (_x: number, _y?: number, cb?: () => void) => ok(cb),
    moveCursor: (_x: number, _y: number, cb?: () => void) => ok(cb),
    clearLine: (_d: number, cb?: () => void) => ok(cb),
    clearScreenDown: (cb?: () => void) => ok(cb),
  });
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    take: () => {
      const taken = out;
      out = '';
      return taken;
    },
  };
}

/** The bar redraws at most 5 times a second: wait for the next frame. */
const frame = () => new Promise((resolve) => setTimeout(resolve, 250));
const part = (number: number, status: 'cut' | 'uploaded') =>
  ({ type: 'part', number, status, rows: 5, bytes: 600, attempt: 1 }) as const;

describe('the progress bar', () => {
  it('counts bytes accepted while sending, and shows retries in the bar', async () => {
    const terminal = fakeTerminal();
    const progress = createProgress('bar', terminal.stream, () => undefined);
    progress.sink({ type: 'phase', phase: 'upload' });
    progress.sink({ type: 'read', phase: 'split', bytes: 1000, totalBytes: 1000 });
    progress.sink(part(1, 'cut'));
    progress.sink(part(2, 'cut'));
    await frame();
    expect(terminal.take()).toMatch(/sending +\|░+\| 0% .*parts 0\/2 sent/);
    progress.sink(part(1, 'uploaded'));
    await frame();
    expect(terminal.take()).toMatch(/\| 50% .*parts 1\/2 sent/);
    progress.sink({ type: 'retry', number: 2, attempt: 1, reason: 'HTTP 503', delayMs: 2000 });
    await frame();
    const retrying = terminal.take();
    expect(retrying).toMatch(/\| 50% .*retrying part 2 in 2\.0 s/);
    expect(retrying).not.toContain('\n');
    progress.sink(part(2, 'uploaded'));
    await frame();
    expect(terminal.take()).toMatch(/\| 100% .*parts 2\/2 sent/);
    progress.stop();
  });

  it('labels the passes over the input as what they are', async () => {
    const terminal = fakeTerminal();
    const progress = createProgress('bar', terminal.stream, () => undefined);
    progress.sink({ type: 'phase', phase: 'validate' });
    progress.sink({ type: 'read', phase: 'validate', bytes: 10, totalBytes: 100 });
    await frame();
    expect(terminal.take()).toMatch(/validating \|.*\| 10% /);
    progress.sink({ type: 'phase', phase: 'split' });
    progress.sink({ type: 'read', phase: 'split', bytes: 50, totalBytes: 100 });
    await frame();
    expect(terminal.take()).toMatch(/cutting +\|.*\| 50% /);
    progress.stop();
  });
});
