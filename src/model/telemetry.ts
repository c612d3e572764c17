/**
 * What a command tells OpenTelemetry (SPEC 9), when `OTEL_*` configures it: the CLI feeds
 * progress events as they happen and the report's figures at the end; `end` builds the
 * trace and the metrics, sends them and returns within a bounded time. Nothing here
 * carries a cell value, a URL's query string or a secret.
 */
import type { ProgressEvent } from './progress.js';

export interface TelemetrySummary {
  runId: string | null;
  flow: string | null;
  mode: string | null;
  outcome: string | null;
  rows: { validated: number; invalid: number; sent: number; skipped: number } | null;
  bytes: { read: number; sent: number } | null;
  /** reconcile: rows by outcome. */
  rowsByOutcome?: Record<string, number>;
}

export interface CommandTelemetry {
  progress(event: ProgressEvent): void;
  summary(summary: TelemetrySummary): void;
  /** Ends the command's trace with its exit code, exports, and shuts down (bounded). */
  end(exitCode: number): Promise<void>;
}
