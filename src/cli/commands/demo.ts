/**
 * `atomic-bulk demo`: the README's first command for an installed package, where no
 * samples/ folder sits in the working directory — it sends the package's own sample
 * campaign to the embedded sandbox, exactly as `send samples/campaign.csv --flow
 * renewal-reminder --sandbox` does in a clone.
 */
import { fileURLToPath } from 'node:url';
import type { Command } from './command.js';
import { outputOptions } from '../options.js';
import { sendCommand } from './send.js';
import { DEFAULT_MAX_ISSUES, DEFAULT_MAX_PART_BYTES } from '../../pipeline/check-input.js';

/** The sample campaign shipped in the package (samples/ is in package.json "files"). */
export const BUNDLED_CAMPAIGN = fileURLToPath(
  new URL('../../../samples/campaign.csv', import.meta.url),
);

export const demoCommand: Command = {
  command: 'demo',
  describe: 'Send the bundled 300-row sample campaign to the embedded sandbox (no account needed)',
  builder: (y) =>
    outputOptions(y).example([
      ['$0 demo', 'Validate, split, upload and report, end to end, on this machine'],
    ]),
  run(args, context) {
    return sendCommand.run(
      {
        // send's defaults, as its option parser would fill them in.
        'max-part-bytes': DEFAULT_MAX_PART_BYTES,
        concurrency: 2,
        'on-invalid': 'abort',
        'max-issues': DEFAULT_MAX_ISSUES,
        progress: 'auto',
        ...args,
        input: BUNDLED_CAMPAIGN,
        flow: 'renewal-reminder',
        sandbox: true,
      },
      context,
    );
  },
};
