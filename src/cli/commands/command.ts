/**
 * The shape of a CLI command module. A command is written with `defineCommand`, which
 * types its `run` by what its builder declares: `args['max-part-bytes']` is a number,
 * `args.progress` one of its choices, and a flag the builder does not declare — a
 * misspelt one — is a compile error, not an `undefined` at run time.
 */
import type { Argv } from 'yargs';
import type { CliContext } from '../context.js';
import type { Args } from '../options.js';

/** The flags a builder declared, without yargs' catch-all index signature. */
export type Flags<A> = {
  [K in keyof A as string extends K ? never : number extends K ? never : K]: A[K];
};

export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  /** Runs the command and returns its exit code. */
  run(args: Args, context: CliContext): Promise<number>;
}

export function defineCommand<A>(definition: {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<A>;
  run(args: Flags<A>, context: CliContext): Promise<number>;
}): Command {
  return {
    command: definition.command,
    describe: definition.describe,
    builder: definition.builder,
    // yargs parsed `args` with this command's builder: it has the declared flags.
    run: (args, context) => definition.run(args as Flags<A>, context),
  };
}
