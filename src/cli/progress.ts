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
  const bar = new cliProgress.SingleBar(
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
  let started = false;
  let phaseStart = Date.now();
  let uploading = false;
  let read = { bytes: 0, total: 0 };
  let cut = 0;
  let cutBytes = 0;
  let accepted = 0;
  let uploaded = 0;
  let failed = 0;
  let note = '';
  const parts = (): string =>
    cut === 0 ? '' : `parts ${uploaded}/${cut} sent${failed > 0 ? `, ${failed} failed` : ''}`;
  const draw = (phase: string, value: number, total: number) => {
    const seconds = Math.max(0.001, (Date.now() - phaseStart) / 1000);
    const payload = {
      phase,
      doneMiB: (value / MIB).toFixed(1),
      totalMiB: (total / MIB).toFixed(1),
      rate: (value / MIB / seconds).toFixed(1),
      parts: parts(),
      note,
    };
    if (!started) {
      bar.start(total, value, payload);
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(value, payload);
    }
  };
  const drawUpload = () =>
    draw('sending   ', accepted, cutBytes + Math.max(0, read.total - read.bytes));
  const sink: ProgressSink = (event: ProgressEvent) => {
    switch (event.type) {
      case 'phase':
        // Each pass over the input gets a fresh bar, so rate and ETA are its own.
        if (started) bar.stop();
        started = false;
        phaseStart = Date.now();
        uploading = event.phase === 'upload';
        return;
      case 'part':
        if (event.status === 'cut') {
          cut++;
          cutBytes += event.bytes;
        }
        if (event.status === 'uploaded' || event.status === 'skipped') {
          uploaded++;
          accepted += event.bytes;
          note = '';
        }
        if (event.status === 'failed') failed++;
        if (uploading) drawUpload();
        return;
      case 'retry':
        note = `  retrying${event.number > 0 ? ` part ${event.number}` : ''} in ${(event.delayMs / 1000).toFixed(1)} s`;
        if (started) bar.update({ note });
        return;
      case 'message':
        if (started) bar.stop();
        started = false;
        stderr.write(`${event.text}\n`);
        return;
      case 'read': {
        read = { bytes: event.bytes, total: event.totalBytes ?? event.bytes };
        if (uploading) return drawUpload();
        const label: Partial<Record<string, string>> = {
          validate: 'validating',
          explain: 'explaining',
          split: 'cutting   ',
        };
        draw(label[event.phase] ?? event.phase, read.bytes, read.total);
        return;
      }
    }
  };
  return {
    sink,
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
