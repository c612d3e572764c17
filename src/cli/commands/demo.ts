/**
 * `atomic-bulk demo`: the README's first command for an installed package, where no
 * samples/ folder sits in the working directory — it sends the package's own sample
 * campaign to the embedded sandbox, exactly as `send samples/campaign.csv --flow
 * renewal-reminder --sandbox` does in a clone.
 */
import { fileURLToPath } from 'node:url';
import { defineCommand } from './command.js';
import { outputOptions, type Args } from '../options.js';
import { sendCommand } from './send.js';
import yargs from 'yargs';

/** The sample campaign shipped in the package (samples/ is in package.json "files"). */
export const BUNDLED_CAMPAIGN = fileURLToPath(
  new URL('../../../samples/campaign.csv', import.meta.url),
);

export const demoCommand = defineCommand({
  command: 'demo',
  describe: 'Send the bundled 300-row sample campaign to the embedded sandbox (no account needed)',
  builder: (y) =>
    outputOptions(y).example([
      ['$0 demo', 'Validate, split, upload and report, end to end, on this machine'],
    ]),
  async run(args, context) {
    // Every flag of send at its default, from send's own option parser, so the demo never
    // drifts from send (a flag added to send without one here once broke it).
    const defaults = (await sendCommand.builder(yargs([])).parse()) as Args;
    return sendCommand.run(
      { ...defaults, ...args, input: BUNDLED_CAMPAIGN, flow: 'renewal-reminder', sandbox: true },
      context,
    );
  },
});
