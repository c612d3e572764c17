/**
 * `--progress json`: stderr becomes a clean NDJSON stream a scheduler can read without a
 * terminal — every line a JSON object with a `type` (schemas/progress-event.schema.json):
 * the progress events, every message the CLI would have printed as text (`message`), an
 * `error` for a failure, and one final `outcome` with the exit code. stdout keeps the
 * human summary, or the report JSON with --json.
 */
import type { CliIo } from './io.js';

/** True when the command line asks for NDJSON progress. */
export function wantsNdjson(argv: readonly string[]): boolean {
  return argv.some(
    (a, k) => a === '--progress=json' || (a === '--progress' && argv[k + 1] === 'json'),
  );
}

/** A line the progress renderer wrote: already an event. */
function isEvent(text: string): boolean {
  return text.startsWith('{"time":"');
}

/** The CLI's output with every stderr line an event; `finish` writes the outcome event. */
export function ndjsonIo(
  io: CliIo,
  command: string | undefined,
): CliIo & {
  error(code: string, message: string, hint: string | undefined): void;
  finish(exitCode: number): void;
} {
  const event = (body: Record<string, unknown>) =>
    io.err(JSON.stringify({ time: new Date().toISOString(), ...body }));
  return {
    ...io,
    err: (text) => {
      for (const line of text.split('\n')) {
        if (line === '') continue;
        if (isEvent(line)) io.err(line);
        else event({ type: 'message', level: 'info', text: line });
      }
    },
    error: (code, message, hint) =>
      event({ type: 'error', code, message, ...(hint !== undefined ? { hint } : {}) }),
    finish: (exitCode) => event({ type: 'outcome', command: command ?? null, exitCode }),
  };
}
