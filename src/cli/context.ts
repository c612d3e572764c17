/** What every command runs with: its input and output, and the signal that interrupts it. */
import type { CliIo } from './io.js';

export interface CliContext {
  io: CliIo;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Standard error, for the progress bar. */
  stderr: NodeJS.WriteStream;
}
