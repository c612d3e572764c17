/** `atomic-bulk flows list` and `atomic-bulk flows get <flowConfigId>`. */
import type { Argv } from 'yargs';
import { AtomicBulkError } from '../../model/errors.js';
import { withApi } from '../api-args.js';
import { defineCommand } from './command.js';
import { connectionOptions, GROUPS, progressFor, stringArg } from '../options.js';

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const flowsCommand = defineCommand({
  command: 'flows <action> [flowConfigId]',
  describe:
    'List the environment’s Action Flows, or print one flow config (save it for --flow-config)',
  builder: (y: Argv) =>
    connectionOptions(y)
      .positional('action', {
        choices: ['list', 'get'] as const,
        describe: 'list: all flows; get: one flow config',
      })
      .positional('flowConfigId', { type: 'string', describe: 'Flow config id (for get)' })
      .option('flow-version', {
        type: 'string',
        default: 'latest',
        describe: 'Version for get: a number or "latest"',
        group: GROUPS.flow,
      })
      .option('name', {
        type: 'string',
        describe: 'list: only flows whose name contains this',
        group: GROUPS.flow,
      })
      .option('status', {
        type: 'string',
        describe: 'list: only flows with this status (published, draft…)',
        group: GROUPS.flow,
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'list: print JSON instead of a table',
        group: GROUPS.output,
      })
      .example([
        ['$0 flows list', 'Table of flows: id, status, name, variables'],
        ['$0 flows get renewal-reminder > flow.json', 'Save a flow config for offline validation'],
        ['$0 flows list --sandbox', 'Try it against the local sandbox'],
      ]),
  async run(args, context) {
    const progress = progressFor({ progress: 'none' }, context);
    if (args.action === 'get') {
      const id = stringArg(args, 'flowConfigId');
      if (id === undefined)
        throw new AtomicBulkError(
          'USAGE',
          'flows get needs a flow config id: atomic-bulk flows get <flowConfigId>.',
        );
      const version = stringArg(args, 'flow-version') ?? 'latest';
      const fetched = await withApi(args, context, progress.sink, ({ api }) =>
        api.getFlowConfig(id, version),
      );
      context.io.out(JSON.stringify(fetched.raw, null, 2));
      return 0;
    }
    const flows = await withApi(args, context, progress.sink, ({ api }) =>
      api.listFlows({ name: stringArg(args, 'name'), status: stringArg(args, 'status') }),
    );
    if (args.json) {
      context.io.out(JSON.stringify(flows, null, 2));
      return 0;
    }
    if (flows.length === 0) {
      context.io.out('No flows found.');
      return 0;
    }
    context.io.out(
      table([
        ['ID', 'STATUS', 'NAME', 'VARIABLES'],
        ...flows.map((f) => [f.id, f.status ?? '', f.name ?? '', f.variables.join(', ')]),
      ]),
    );
    return 0;
  },
});
