/** Every command of the CLI, in the order --help lists them. */
import type { Command } from './command.js';
import { splitCommand } from './split.js';
import { validateCommand } from './validate.js';

export const COMMANDS: Command[] = [validateCommand, splitCommand];
