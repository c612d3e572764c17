/** Every command of the CLI, in the order --help lists them. */
import type { Command } from './command.js';
import { cancelCommand } from './cancel.js';
import { campaignCommand } from './campaign.js';
import { demoCommand } from './demo.js';
import { flowsCommand } from './flows.js';
import { reconcileCommand } from './reconcile.js';
import { runsCommand } from './runs.js';
import { sandboxCommand } from './sandbox.js';
import { sendCommand } from './send.js';
import { splitCommand } from './split.js';
import { templateCommand } from './template.js';
import { validateCommand } from './validate.js';

export const COMMANDS: Command[] = [
  sendCommand,
  reconcileCommand,
  cancelCommand,
  validateCommand,
  splitCommand,
  templateCommand,
  flowsCommand,
  runsCommand,
  campaignCommand,
  sandboxCommand,
  demoCommand,
];
