/** The shape of a CLI command module. */
import type { Argv } from 'yargs';
import type { CliContext } from '../context.js';
import type { Args } from '../options.js';

export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  /** Runs the command and returns its exit code. */
  run(args: Args, context: CliContext): Promise<number>;
}
