/** `atomic-bulk validate <input>`: check only; never calls csv-task. */
import { LIMITS } from '../../model/limits.js';
import type { LoadedFlow } from '../../pipeline/flow-source.js';
import { defineCommand } from './command.js';
import {
  GROUPS,
  inputArg,
  nextStepFlags,
  connectionOptions,
  flowOptions,
  intArg,
  outputOptions,
  partBytesOption,
  printReport,
  progressFor,
  stringArg,
} from '../options.js';
import { flowFromApi, loadFlow } from '../flow-args.js';
import { withApi } from '../api-args.js';

export const validateCommand = defineCommand({
  command: 'validate <input..>',
  describe: 'Check every header and cell of a campaign CSV against a flow; sends nothing',
  builder: (y) =>
    outputOptions(
      partBytesOption(
        connectionOptions(flowOptions(y))
          .positional('input', {
            type: 'string',
            describe:
              'CSV file (plain or gzip), - for standard input, s3://bucket/key; or several files read as one campaign: paths, a directory, a glob, s3://bucket/prefix/',
          })
          .option('allow-unknown-variables', {
            type: 'boolean',
            default: false,
            describe:
              'Report payload.variables columns the flow does not define as warnings, not errors',
            group: GROUPS.checks,
          }),
        GROUPS.checks,
      ),
    ).example([
      [
        '$0 validate campaign.csv --flow-config flow.json',
        'Check offline against a saved flow config',
      ],
      [
        '$0 validate campaign.csv --flow renewal-reminder',
        'Fetch the latest flow config from the API and check',
      ],
      [
        'cat campaign.csv | $0 validate - --flow-config flow.json --json',
        'Read standard input; print the report JSON',
      ],
    ]),
  async run(args, context) {
    // Loaded when the command runs: --help and the other commands do not pay for it.
    const { validate } = await import('../../pipeline/validate.js');
    const progress = progressFor(args, context);
    const run = (flow: LoadedFlow) =>
      validate({
        input: inputArg(args),
        flow,
        reportDir: stringArg(args, 'report-dir'),
        maxIssues: intArg(args, 'max-issues', LIMITS.maxIssues),
        maxPartBytes: intArg(args, 'max-part-bytes', LIMITS.maxPartBytes),
        allowUnknownVariables: args['allow-unknown-variables'],
        s3Endpoint: stringArg(args, 's3-endpoint'),
        progress: progress.sink,
        signal: context.signal,
        nextStepFlags: nextStepFlags(args),
        sandbox: args.sandbox,
      });
    try {
      const result =
        flowFromApi(args) || args.sandbox
          ? await withApi(args, context, progress.sink, async ({ api }) =>
              run(await loadFlow(args, api)),
            )
          : await run(await loadFlow(args, null));
      progress.stop();
      return printReport(result.report, result.reportDir, args, context);
    } finally {
      progress.stop();
    }
  },
});
