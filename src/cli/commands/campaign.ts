/** `atomic-bulk campaign list | show NAME | forget NAME --key VALUE… | --keys FILE` (SPEC 8). */
import type { Argv } from 'yargs';
import { AtomicBulkError } from '../../model/errors.js';
import { printable } from '../../model/redact.js';
import {
  campaignSecretFromEnv,
  forgetKeys,
  listCampaignNames,
  showCampaign,
  type CampaignSummary,
} from '../../pipeline/campaigns.js';
import { SEND_DEFAULTS } from '../../pipeline/send-options.js';
import type { CliContext } from '../context.js';
import { defineCommand } from './command.js';
import { GROUPS, stringArg, type Args } from '../options.js';

function describe(c: CampaignSummary): string[] {
  const to =
    c.destination === null
      ? 'not yet sent'
      : `flow ${c.destination.flowConfigId} (${c.destination.mode}) in ${c.destination.environmentId} at ${c.destination.origin}`;
  const last =
    c.lastRun === null
      ? 'none'
      : `${c.lastRun.finishedAt}: ${c.lastRun.sent} sent, ${c.lastRun.skipped} skipped (${c.lastRun.outcome}; once per ${c.lastRun.oncePer ?? '?'})`;
  return [
    `campaign ${c.name} (${c.where})`,
    `  key: ${c.keyColumns.join(' + ')}; sends to ${to}`,
    `  keys: ${c.keys.toLocaleString('en-US')} (${c.entries.toLocaleString('en-US')} entries, ${c.ledgerBytes.toLocaleString('en-US')} bytes in ${c.segments} segments); forgotten: ${c.forgotten}`,
    `  runs: ${c.runs.length} finished, last ${last}; unfinished: ${c.unfinishedRuns.length === 0 ? 'none' : c.unfinishedRuns.map((r) => r.slice(0, 16)).join(', ')}`,
  ].map(printable);
}

function options(args: Args, context: CliContext) {
  return {
    stateDir: stringArg(args, 'state-dir') ?? SEND_DEFAULTS.stateDir,
    secret: campaignSecretFromEnv(context.io.env),
    s3Endpoint: stringArg(args, 's3-endpoint'),
  };
}

export const campaignCommand = defineCommand({
  command: 'campaign <action> [name]',
  describe: 'Recurring campaigns: list them, show one, or forget keys (an erasure request)',
  builder: (y: Argv) =>
    y
      .positional('action', {
        choices: ['list', 'show', 'forget'] as const,
        describe: 'list: the campaigns; show: one campaign; forget: remove keys from its ledger',
      })
      .positional('name', { type: 'string', describe: 'The campaign (show, forget)' })
      .option('state-dir', {
        type: 'string',
        default: SEND_DEFAULTS.stateDir,
        describe: 'The state directory the sends used (a folder or s3://bucket/prefix/)',
        group: GROUPS.sending,
      })
      .option('key', {
        type: 'string',
        array: true,
        describe:
          'forget: a key value (several key columns: one CSV record, e.g. "a@x.com,EU"); repeatable',
        group: GROUPS.campaign,
      })
      .option('keys', {
        type: 'string',
        describe:
          'forget: a CSV file whose header names the key columns (other columns are ignored)',
        group: GROUPS.campaign,
      })
      .option('s3-endpoint', {
        type: 'string',
        describe: 'S3-compatible endpoint for an s3:// state directory [env AWS_ENDPOINT_URL_S3]',
        group: GROUPS.sending,
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'Print JSON',
        group: GROUPS.output,
      })
      .example([
        ['$0 campaign list', 'The campaigns under .atomic-bulk'],
        ['$0 campaign show renewals', 'Keys, runs and the last run of one campaign'],
        [
          '$0 campaign forget renewals --key cust-100037',
          'Erase one user from the ledger: a later send gives them a card again',
        ],
      ]),
  async run(args, context) {
    const o = options(args, context);
    const name = stringArg(args, 'name');
    const print = (value: unknown, lines: string[]) => {
      if (args.json) context.io.out(JSON.stringify(value, null, 2));
      else for (const line of lines) context.io.out(line);
      return 0;
    };
    if (args.action === 'list') {
      const names = await listCampaignNames(o);
      if (o.secret === null || names.length === 0)
        return print(
          names.map((n) => ({ name: n })),
          names.length === 0 ? ['No campaigns.'] : names,
        );
      const all: CampaignSummary[] = [];
      for (const n of names) all.push(await showCampaign(o, n));
      return print(all, all.flatMap(describe));
    }
    if (name === undefined)
      throw new AtomicBulkError('USAGE', `campaign ${args.action} needs the campaign's name.`);
    if (args.action === 'show') {
      const summary = await showCampaign(o, name);
      return print(summary, describe(summary));
    }
    const values = Array.isArray(args.key) ? (args.key as unknown[]).map(String) : [];
    const file = stringArg(args, 'keys') ?? null;
    if (values.length === 0 && file === null)
      throw new AtomicBulkError(
        'USAGE',
        'campaign forget needs --key VALUE (repeatable) or --keys FILE.',
      );
    const result = await forgetKeys(o, name, { values, file });
    return print(result, [
      `Forgot ${result.removed.toLocaleString('en-US')} of ${result.given.toLocaleString('en-US')} keys in campaign ${name}${result.given > result.removed ? ` (${(result.given - result.removed).toLocaleString('en-US')} were not in its ledger)` : ''}; a later send gives them a card again.`,
    ]);
  },
});
