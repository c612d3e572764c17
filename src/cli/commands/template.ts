/** `atomic-bulk template`: a header and one example row for a flow, valid as written. */
import { stringify } from 'csv-stringify/sync';
import type { FlowConfig } from '../../model/flow.js';
import { withApi } from '../api-args.js';
import { flowFromApi, loadFlow } from '../flow-args.js';
import { defineCommand } from './command.js';
import { connectionOptions, flowOptions, progressFor } from '../options.js';

const EXAMPLES: Record<string, string> = {
  string: 'Example text',
  number: '42',
  date: '2027-01-31',
  boolean: 'true',
};

/** The template's rows: header, then an example that validates against the flow. */
export function templateRows(flow: FlowConfig): string[][] {
  const header = ['target.attributes.atomic___id'];
  const example = ['user-123'];
  for (const variable of flow.variables.values()) {
    header.push(`payload.variables.${variable.name}`);
    const fallback = variable.values?.[0] ?? EXAMPLES[variable.type] ?? 'Example';
    const given = variable.defaultValue;
    example.push(
      typeof given === 'string' || typeof given === 'number' || typeof given === 'boolean'
        ? String(given)
        : fallback,
    );
  }
  header.push('payload.cardOptions.priority', 'payload.cardOptions.expiresInterval');
  example.push('5', 'P7D');
  return [header, example];
}

export const templateCommand = defineCommand({
  command: 'template',
  describe: 'Print a CSV header and one example row for a flow',
  builder: (y) =>
    connectionOptions(flowOptions(y)).example([
      [
        '$0 template --flow renewal-reminder > campaign.csv',
        'Start a campaign file from the flow’s variables',
      ],
      ['$0 template --flow-config flow.json', 'Offline, from a saved flow config'],
      ['$0 template --flow renewal-reminder --sandbox', 'Try it against the local sandbox'],
    ]),
  async run(args, context) {
    const progress = progressFor({ progress: 'none' }, context);
    const flow =
      flowFromApi(args) || args.sandbox
        ? await withApi(args, context, progress.sink, ({ api }) => loadFlow(args, api))
        : await loadFlow(args, null);
    context.io.out(stringify(templateRows(flow.config), { record_delimiter: '\n' }).trimEnd());
    return 0;
  },
});
