/** Every command of the CLI, in the order --help lists them. */
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { flowsCommand } from './flows.js';
import { runsCommand } from './runs.js';
import { sandboxCommand } from './sandbox.js';
import { sendCommand } from './send.js';
import { splitCommand } from './split.js';
import { templateCommand } from './template.js';
import { validateCommand } from './validate.js';

export const COMMANDS: Command[] = [
  sendCommand,
  validateCommand,
  splitCommand,
  templateCommand,
  flowsCommand,
  runsCommand,
  sandboxCommand,
  demoCommand,
];
