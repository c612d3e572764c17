/** What every command runs with: its input and output, and the signal that interrupts it. */
import type { CommandTelemetry } from '../model/telemetry.js';
import type { CliIo } from './io.js';

export interface CliContext {
  io: CliIo;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Standard error, for the progress bar. */
  stderr: NodeJS.WriteStream;
  /** OpenTelemetry of this command, when OTEL_* asks for it (cli/telemetry.ts). */
  telemetry?: CommandTelemetry | null;
  /** The environment (OTEL_* is read from it). Default: process.env. */
  env?: NodeJS.ProcessEnv;
}
