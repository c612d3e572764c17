/** `atomic-bulk runs list` and `atomic-bulk runs prune`: the run state kept for resuming. */
import type { Argv } from 'yargs';
import { resolve } from 'node:path';
import { AtomicBulkError } from '../../model/errors.js';
import { printable } from '../../model/redact.js';
import { listRuns, parseDuration, pruneRuns, type RunEntry } from '../../state/runs.js';
import { sweepOrphans } from '../../files/private-files.js';
import { defineCommand } from './command.js';
import { GROUPS, stringArg } from '../options.js';

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function state(e: RunEntry): string {
  if (e.kind === 'dry-run') return 'dry run (kept parts)';
  if (e.unreadable) return 'unreadable';
  if (e.sentInFullAt !== null) return 'sent in full';
  if (e.failed > 0) return `${e.uploaded}/${e.parts} parts sent, ${e.failed} failed`;
  return `${e.uploaded}/${e.parts}${e.complete ? '' : '+'} parts sent`;
}

function describe(e: RunEntry): string {
  const where =
    e.apiOrigin === null ? '' : ` → ${e.apiOrigin}, environment ${e.environmentId ?? '?'}`;
  const flow = e.flowConfigId === null ? '' : ` flow ${e.flowConfigId} (${e.mode ?? '?'})`;
  const files = e.partFiles > 0 ? `; ${e.partFiles} part files, ${size(e.partBytes)}` : '';
  return printable(`${e.key}  ${e.updatedAt}  ${state(e)}${flow}${where}${files}`);
}

export const runsCommand = defineCommand({
  command: 'runs <action>',
  describe: 'List the runs kept for resuming, or prune old ones (their part files included)',
  builder: (y: Argv) =>
    y
      .positional('action', {
        choices: ['list', 'prune'] as const,
        describe: 'list: every run; prune: remove runs older than --older-than, or --run',
      })
      .option('state-dir', {
        type: 'string',
        default: '.atomic-bulk',
        describe: 'The state directory send used',
        group: GROUPS.sending,
      })
      .option('older-than', {
        type: 'string',
        default: '30d',
        describe: 'prune: runs not updated for this long (30d, 12h, 0 for all)',
        group: GROUPS.sending,
      })
      .option('run', {
        type: 'string',
        array: true,
        describe: 'prune: only these runs (their names from runs list), whatever their age',
        group: GROUPS.sending,
      })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'prune: say what would be removed, remove nothing',
        group: GROUPS.sending,
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'list: print JSON',
        group: GROUPS.output,
      })
      .example([
        ['$0 runs list', 'Every run under .atomic-bulk, oldest first'],
        ['$0 runs prune --older-than 7d', 'Remove runs not touched for a week'],
        ['$0 runs prune --run <name>', 'Abandon one run (a new send starts it afresh)'],
      ]),
  async run(args, context) {
    const given = stringArg(args, 'state-dir') ?? '.atomic-bulk';
    if (given.startsWith('s3://'))
      throw new AtomicBulkError('USAGE', `runs works on a local --state-dir; ${given} is on S3.`, {
        hint: `Each run there is a prefix under ${given.replace(/\/*$/, '/')}runs/ (manifest.json, lease.json); list them with your S3 tools, and expire them with a bucket lifecycle rule.`,
      });
    const stateDir = resolve(given);
    if (args.action === 'list') {
      const runs = await listRuns(stateDir);
      if (args.json) context.io.out(JSON.stringify(runs, null, 2));
      else if (runs.length === 0) context.io.out(`No runs in ${stateDir}.`);
      else for (const run of runs) context.io.out(describe(run));
      return 0;
    }
    const only = args.run ?? [];
    const ageText = stringArg(args, 'older-than') ?? '30d';
    const age = parseDuration(ageText);
    if (age === null)
      throw new AtomicBulkError(
        'USAGE',
        `--older-than must be a duration such as 30d, 12h or 90m (got ${printable(ageText)}).`,
      );
    const cutoff = Date.now() - age;
    const known = new Set((await listRuns(stateDir)).map((r) => r.key));
    const unknown = only.filter((k) => !known.has(k));
    if (unknown.length > 0)
      throw new AtomicBulkError(
        'USAGE',
        `No run named ${printable(unknown.join(', '))} in ${stateDir}.`,
        { hint: 'atomic-bulk runs list shows the names.' },
      );
    const dryRun = args['dry-run'];
    const result = await pruneRuns(
      stateDir,
      (e) => (only.length > 0 ? only.includes(e.key) : Date.parse(e.updatedAt) <= cutoff),
      dryRun,
    );
    for (const e of result.removed)
      context.io.out(`${dryRun ? 'Would remove' : 'Removed'} ${describe(e)}`);
    for (const { entry, pid } of result.busy)
      context.io.err(`Kept ${printable(entry.key)}: a send (pid ${pid}) is working on it.`);
    // Temporary folders of killed sends (cut parts, spooled input) hold personal data.
    const orphans = dryRun ? 0 : await sweepOrphans();
    if (orphans > 0)
      context.io.out(
        `Removed ${orphans} temporary folder${orphans === 1 ? '' : 's'} left by killed atomic-bulk processes.`,
      );
    if (result.removed.length === 0 && result.busy.length === 0 && orphans === 0)
      context.io.out(
        known.size === 0
          ? `Nothing to prune in ${stateDir}: it holds no runs.`
          : `Nothing to prune in ${stateDir}: its ${known.size} run${known.size === 1 ? ' is' : 's are'} newer than ${printable(ageText)}. Name runs to prune them (atomic-bulk runs list shows the names), or give a shorter --older-than.`,
      );
    return 0;
  },
});
