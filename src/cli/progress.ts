/**
 * Renders progress events on stderr: a bar on a terminal, NDJSON with --progress json,
 * nothing otherwise (SPEC 3.3). Read events are throttled; part events always show.
 */
import cliProgress from 'cli-progress';
import type { ProgressEvent, ProgressSink } from '../model/progress.js';

export type ProgressMode = 'auto' | 'bar' | 'json' | 'none';

const THROTTLE_MS = 500;
const MIB = 1024 * 1024;

export interface ProgressRenderer {
  sink: ProgressSink;
  /** Removes the bar before the final summary is printed. */
  stop(): void;
}

export function createProgress(
  mode: ProgressMode,
  stderr: NodeJS.WriteStream,
  writeLine: (line: string) => void,
): ProgressRenderer {
  const resolved = mode === 'auto' ? (stderr.isTTY ? 'bar' : 'none') : mode;
  if (resolved === 'json') return jsonProgress(writeLine);
  if (resolved === 'bar') return barProgress(stderr);
  // Quiet, but a warning (state not used, a lease taken over or not taken) is still said.
  return {
    sink: (event) => {
      if (event.type === 'message' && event.level === 'warn') writeLine(`Warning: ${event.text}`);
    },
    stop: () => undefined,
  };
}

function jsonProgress(writeLine: (line: string) => void): ProgressRenderer {
  let lastRead = 0;
  const sink: ProgressSink = (event) => {
    if (event.type === 'read') {
      const now = Date.now();
      const done = event.totalBytes !== null && event.bytes >= event.totalBytes;
      if (!done && now - lastRead < THROTTLE_MS) return;
      lastRead = now;
    }
    writeLine(JSON.stringify({ time: new Date().toISOString(), ...event }));
  };
  return { sink, stop: () => undefined };
}

/**
 * The bar shows each phase as what it is. Validating and explaining count bytes read.
 * Sending counts part bytes *accepted* by the server, against the bytes cut so far plus
 * the input not yet read, so it reaches 100 % when the last part is accepted, not when
 * it is cut. Retries show in the bar's last field instead of piling up as lines.
 */
function barProgress(stderr: NodeJS.WriteStream): ProgressRenderer {
  const bar = new BarProgress(stderr);
  return { sink: (event) => bar.show(event), stop: () => bar.stop() };
}

const READ_LABELS: Partial<Record<string, string>> = {
  validate: 'validating',
  explain: 'explaining',
  split: 'cutting   ',
};

class BarProgress {
  private readonly bar: cliProgress.SingleBar;
  private started = false;
  private phaseStart = Date.now();
  private uploading = false;
  private read = { bytes: 0, total: 0 };
  private cut = 0;
  private cutBytes = 0;
  private accepted = 0;
  private uploaded = 0;
  private failed = 0;
  private note = '';

  constructor(private readonly stderr: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        stream: stderr,
        format:
          '{phase} |{bar}| {percentage}% {doneMiB}/{totalMiB} MiB  {rate} MiB/s  ETA {eta_formatted}  {parts}{note}',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  show(event: ProgressEvent): void {
    switch (event.type) {
      case 'phase':
        // Each pass over the input gets a fresh bar, so rate and ETA are its own.
        this.stop();
        this.phaseStart = Date.now();
        this.uploading = event.phase === 'upload';
        return;
      case 'part':
        this.part(event);
        return;
      case 'retry':
        this.note = `  retrying${event.number > 0 ? ` part ${event.number}` : ''} in ${(event.delayMs / 1000).toFixed(1)} s`;
        if (this.started) this.bar.update({ note: this.note });
        return;
      case 'message':
        this.stop();
        this.stderr.write(`${event.text}\n`);
        return;
      case 'read':
        this.read = { bytes: event.bytes, total: event.totalBytes ?? event.bytes };
        if (this.uploading) this.drawUpload();
        else this.draw(READ_LABELS[event.phase] ?? event.phase, this.read.bytes, this.read.total);
        return;
    }
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }

  private part(event: Extract<ProgressEvent, { type: 'part' }>): void {
    if (event.status === 'cut') {
      this.cut++;
      this.cutBytes += event.bytes;
    }
    if (event.status === 'uploaded' || event.status === 'skipped') {
      this.uploaded++;
      this.accepted += event.bytes;
      this.note = '';
    }
    if (event.status === 'failed') this.failed++;
    if (this.uploading) this.drawUpload();
  }

  private parts(): string {
    if (this.cut === 0) return '';
    return `parts ${this.uploaded}/${this.cut} sent${this.failed > 0 ? `, ${this.failed} failed` : ''}`;
  }

  private drawUpload(): void {
    const left = Math.max(0, this.read.total - this.read.bytes);
    this.draw('sending   ', this.accepted, this.cutBytes + left);
  }

  private draw(phase: string, value: number, total: number): void {
    const seconds = Math.max(0.001, (Date.now() - this.phaseStart) / 1000);
    const payload = {
      phase,
      doneMiB: (value / MIB).toFixed(1),
      totalMiB: (total / MIB).toFixed(1),
      rate: (value / MIB / seconds).toFixed(1),
      parts: this.parts(),
      note: this.note,
    };
    if (!this.started) {
      this.bar.start(total, value, payload);
      this.started = true;
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, payload);
    }
  }
}
