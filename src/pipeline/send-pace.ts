/**
 * --rate and --window on a send (SPEC 8): each part is requested no earlier than its slot
 * (the rows before it and its own, at the pace), and never outside the window: there the
 * send stops before the part (PAUSED, exit 3) and the next run resumes it.
 */
import {
  describeOpening,
  insideWindow,
  nextOpening,
  type Pace,
  type Window,
} from '../campaign/schedule.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import type { CampaignReport } from '../model/report.js';
import type { ResolvedSendOptions } from './send-options.js';

export class Pacer {
  private started: number | null = null;
  private rowsBefore = 0;

  constructor(private readonly options: ResolvedSendOptions) {}

  /** Stops a send that starts outside its window before any work. */
  static refuseOutside(options: ResolvedSendOptions): void {
    const w = options.window;
    if (w !== null && !insideWindow(w, options.now())) throw closed(w, options.now());
  }

  /**
   * Waits for the part's slot, then checks the window. A part uploaded by an earlier
   * invocation neither waits nor counts against the pace.
   */
  async before(part: Part, uploadedEarlier: boolean): Promise<void> {
    const { pace, window, now, sleep, signal } = this.options;
    if (uploadedEarlier) return;
    this.started ??= now().getTime();
    if (pace !== null) {
      const due =
        this.started + pace.slotMs * (Math.ceil((this.rowsBefore + part.rows) / pace.rows) - 1);
      const wait = due - now().getTime();
      if (wait > 0) await sleep(wait, signal);
      signal?.throwIfAborted();
    }
    if (window !== null && !insideWindow(window, now())) throw closed(window, now());
    this.rowsBefore += part.rows;
  }

  /** The pace for the report and progress: slots for `rows` and when the last is due. */
  static plan(pace: Pace | null, rows: number, from: Date): CampaignReport['pace'] {
    if (pace === null) return null;
    const slots = Math.ceil(rows / pace.rows);
    return {
      rows: pace.rows,
      slotMs: pace.slotMs,
      slots,
      expectedEnd: new Date(from.getTime() + Math.max(0, slots - 1) * pace.slotMs).toISOString(),
    };
  }

  static windowOf(window: Window | null): CampaignReport['window'] {
    return window === null ? null : { ...window };
  }
}

function closed(w: Window, at: Date): AtomicBulkError {
  return new AtomicBulkError(
    'PAUSED',
    `Outside the send window ${w.from}–${w.to} (${w.timeZone}): it opens at ${describeOpening(w, nextOpening(w, at))}.`,
    {
      hint: 'Run the same command again then: parts already uploaded are skipped and the rest go out at the pace.',
    },
  );
}
