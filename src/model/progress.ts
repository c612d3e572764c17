/**
 * Progress events, emitted by the pipelines and rendered by the CLI (a bar on a TTY,
 * NDJSON with --progress json). Events carry counts only: no cell values, no URLs.
 */
export type Phase = 'validate' | 'explain' | 'split' | 'upload' | 'report';

export type ProgressEvent =
  | { type: 'phase'; phase: Phase }
  | { type: 'read'; phase: Phase; bytes: number; totalBytes: number | null }
  | {
      type: 'part';
      number: number;
      status: 'cut' | 'uploading' | 'uploaded' | 'failed' | 'skipped';
      rows: number;
      bytes: number;
      attempt: number;
      /** With status uploaded or skipped: part bytes accepted so far in this run, this part included. */
      bytesAccepted?: number;
    }
  /** A wait before another attempt; `number` is the part, or 0 for an API call outside a part. */
  | { type: 'retry'; number: number; attempt: number; reason: string; delayMs: number }
  | { type: 'message'; level: 'info' | 'warn'; text: string };

export type ProgressSink = (event: ProgressEvent) => void;

export const NO_PROGRESS: ProgressSink = () => undefined;

/** The event for a part just cut. */
export function cutEvent(part: { number: number; rows: number; bytes: number }): ProgressEvent {
  return {
    type: 'part',
    number: part.number,
    status: 'cut',
    rows: part.rows,
    bytes: part.bytes,
    attempt: 0,
  };
}
