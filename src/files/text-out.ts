/**
 * Text written to a stream in pieces of about 16 KiB, not a write per line: a write, or a
 * promise, per row of a million-row file costs more than the row, and a piece handed on
 * small dies young where a batch's text kept whole would not.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

const PIECE_CHARS = 16 * 1024;

export class TextOut {
  private pending = '';
  private full = false;

  constructor(private readonly out: Writable) {}

  /** Adds text; true once the stream asked to wait (the caller then awaits `flush`). */
  add(text: string): boolean {
    this.pending += text;
    if (this.pending.length >= PIECE_CHARS) this.writePending();
    return this.full;
  }

  /** Writes what was added, waiting while the file catches up. */
  async flush(): Promise<void> {
    this.writePending();
    if (!this.full) return;
    this.full = false;
    await once(this.out, 'drain');
  }

  /** Flushes and ends the stream, once it is all written. */
  async close(): Promise<void> {
    this.writePending();
    this.full = false;
    await new Promise<void>((resolve, reject) => {
      this.out.end((error?: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }

  private writePending(): void {
    if (this.pending === '') return;
    if (!this.out.write(this.pending)) this.full = true;
    this.pending = '';
  }
}
