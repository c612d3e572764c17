/** `atomic-bulk split <input> --out-dir DIR`: structural split of any CSV; no flow needed. */
import { LIMITS } from '../../model/limits.js';
import { defineCommand } from './command.js';
import {
  GROUPS,
  inputArg,
  intArg,
  outputOptions,
  partBytesOption,
  printReport,
  progressFor,
  stringArg,
} from '../options.js';
import { AtomicBulkError } from '../../model/errors.js';

export const splitCommand = defineCommand({
  command: 'split <input..>',
  describe: 'Cut any CSV into parts under the byte budget, never inside a record; no flow needed',
  builder: (y) =>
    outputOptions(
      partBytesOption(
        y
          .positional('input', {
            type: 'string',
            describe:
              'CSV file (plain or gzip), - for standard input, s3://bucket/key; or several files read as one campaign: paths, a directory, a glob, s3://bucket/prefix/',
          })
          .option('out-dir', {
            type: 'string',
            demandOption: true,
            describe:
              'Directory for part-0001.csv, part-0002.csv, … and parts.json (must hold no parts)',
            group: GROUPS.output,
          })
          .option('on-invalid', {
            choices: ['abort', 'skip'] as const,
            default: 'abort',
            describe:
              'abort: any broken record means no parts are kept; skip: leave broken records out',
            group: GROUPS.checks,
          }),
        GROUPS.checks,
      ),
    ).example([
      [
        '$0 split big.csv --out-dir parts/',
        'Parts of at most 32,000,000 bytes, each with the header',
      ],
      ['$0 split big.csv --out-dir parts/ --max-part-bytes 10000000', 'Smaller parts'],
      [
        '$0 split s3://drop/in.csv --out-dir parts/ --on-invalid skip',
        'Read from S3; leave broken records out',
      ],
    ]),
  async run(args, context) {
    // Loaded when the command runs: --help and the other commands do not pay for it.
    const { split } = await import('../../pipeline/split.js');
    const progress = progressFor(args, context);
    try {
      const outDir = stringArg(args, 'out-dir');
      if (outDir === undefined) throw new AtomicBulkError('USAGE', 'split needs --out-dir DIR.');
      const result = await split({
        input: inputArg(args),
        outDir,
        maxPartBytes: intArg(args, 'max-part-bytes', LIMITS.maxPartBytes),
        onInvalid: args['on-invalid'] as 'abort' | 'skip',
        reportDir: stringArg(args, 'report-dir'),
        maxIssues: intArg(args, 'max-issues', LIMITS.maxIssues),
        s3Endpoint: stringArg(args, 's3-endpoint'),
        progress: progress.sink,
        signal: context.signal,
      });
      progress.stop();
      return printReport(result.report, result.reportDir, args, context);
    } finally {
      progress.stop();
    }
  },
});
