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
  return { sink: () => undefined, stop: () => undefined };
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

function barProgress(stderr: NodeJS.WriteStream): ProgressRenderer {
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr,
      format:
        '{phase} |{bar}| {percentage}% {doneMiB}/{totalMiB} MiB  {rate} MiB/s  ETA {eta_formatted}  {parts}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let phaseStart = Date.now();
  let cut = 0;
  let uploaded = 0;
  let failed = 0;
  const parts = (): string =>
    cut === 0 ? '' : `parts ${uploaded}/${cut} sent${failed > 0 ? `, ${failed} failed` : ''}`;
  const sink: ProgressSink = (event: ProgressEvent) => {
    if (event.type === 'phase') {
      // Each pass over the input gets a fresh bar, so rate and ETA are its own.
      if (started) bar.stop();
      started = false;
      phaseStart = Date.now();
      return;
    }
    if (event.type === 'part') {
      if (event.status === 'cut') cut++;
      if (event.status === 'uploaded' || event.status === 'skipped') uploaded++;
      if (event.status === 'failed') failed++;
      if (started) bar.update({ parts: parts() });
      return;
    }
    if (event.type === 'message') {
      if (started) bar.stop();
      started = false;
      stderr.write(`${event.text}\n`);
      return;
    }
    if (event.type !== 'read') return;
    const total = event.totalBytes ?? event.bytes;
    const seconds = Math.max(0.001, (Date.now() - phaseStart) / 1000);
    const payload = {
      phase:
        event.phase === 'validate'
          ? 'validating'
          : event.phase === 'split'
            ? 'sending  '
            : 'explaining',
      doneMiB: (event.bytes / MIB).toFixed(1),
      totalMiB: (total / MIB).toFixed(1),
      rate: (event.bytes / MIB / seconds).toFixed(1),
      parts: parts(),
    };
    if (!started) {
      bar.start(total, event.bytes, payload);
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(event.bytes, payload);
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
