/** Where the CLI writes: injected so tests can capture output and main owns the streams. */
export interface CliIo {
  /** Results (reports with --json, lists, templates). */
  out(text: string): void;
  /** Messages, progress and errors. */
  err(text: string): void;
  /** True when stderr is a terminal (progress bar, colours). */
  readonly errIsTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/**
 * yargs drops a lone `-` positional (yargs/yargs#1312), the usual name for standard
 * input; main passes it through as this placeholder and `inputArg` maps it back.
 */
export const STDIN_PLACEHOLDER = '\u0000stdin';
