/** `atomic-bulk reconcile <report-dir | run-id>`: which sent rows produced cards. */
import { DEFAULTS, LIMITS } from '../../model/limits.js';
import { AtomicBulkError } from '../../model/errors.js';
import type { ReconcileSection } from '../../model/report.js';
import { parseDuration } from '../../state/runs.js';
import { withApi } from '../api-args.js';
import { notifierFor, withNotice } from '../notify-args.js';
import { defineCommand } from './command.js';
import { GROUPS, intArg, progressFor, sentRunOptions, stringArg, type Args } from '../options.js';

function duration(args: Args, name: string): number {
  const value = args[name];
  const text = typeof value === 'string' || typeof value === 'number' ? String(value) : '0';
  const ms = parseDuration(text, 's');
  if (ms === null)
    throw new AtomicBulkError('USAGE', `--${name} must be a duration such as 10m, 90s or 500ms.`);
  return ms;
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

export const reconcileCommand = defineCommand({
  command: 'reconcile <run>',
  describe: 'Check which rows of a finished send produced cards in Atomic (reconciled.csv)',
  builder: (y) =>
    sentRunOptions(y, DEFAULTS.reconcileConcurrency)
      .option('wait', {
        type: 'string',
        default: '0',
        describe:
          'Keep checking this long while rows have no card yet (Atomic processes uploads asynchronously), e.g. 10m',
        group: GROUPS.sending,
      })
      .option('interval', {
        type: 'string',
        default: '5s',
        describe: 'Time between checks while waiting',
        group: GROUPS.sending,
      })
      .option('source', {
        choices: ['auto', 'cards', 'analytics'] as const,
        default: 'auto',
        describe:
          'cards: ask the Cards API; analytics: join the hourly analytics export’s events to the rows; auto: analytics when the export covers the run, else cards',
        group: GROUPS.sending,
      })
      .option('format', {
        choices: ['ndjson', 'csv'] as const,
        default: 'ndjson',
        describe: 'Format asked of the analytics export',
        group: GROUPS.sending,
      })
      .option('strategy', {
        choices: ['auto', 'per-id', 'template'] as const,
        default: 'auto',
        describe:
          'per-id: one query per row; template: page the flow’s cards and match; auto: per-id up to 2,000 rows',
        group: GROUPS.sending,
      })
      .option('sample', {
        type: 'number',
        describe: 'Check this many random rows and report the delivered share with a 95 % interval',
        group: GROUPS.sending,
      })
      .option('seed', {
        type: 'number',
        default: 1,
        describe: 'Seed of --sample',
        group: GROUPS.sending,
      })
      .example([
        ['$0 reconcile atomic-bulk-report-20261130T020000Z-1a2b3c', 'Check once'],
        ['$0 reconcile <report-dir> --wait 15m', 'Wait while Atomic processes the upload'],
        ['$0 reconcile <run-id> --sample 1000', 'Estimate the delivered share of a large run'],
        [
          '$0 reconcile <report-dir> --source analytics --wait 2h',
          'Outcomes per row from the hourly analytics export, once its hours cover the run',
        ],
      ]),
  async run(args, context) {
    // Loaded when the command runs: --help and the other commands do not pay for it.
    const { reconcile } = await import('../../pipeline/reconcile.js');
    const progress = progressFor({ progress: 'none' }, context);
    const target = stringArg(args, 'run') as string;
    const sample = args.sample === undefined ? undefined : intArg(args, 'sample', 1);
    const notifier = notifierFor(args, context, 'reconcile');
    const result = await withNotice(notifier, () =>
      withApi(args, context, progress.sink, ({ api }) =>
        reconcile({
          notifier,
          target,
          stateDir: stringArg(args, 'state-dir'),
          api,
          strategy: args.strategy as 'auto' | 'per-id' | 'template',
          source: args.source as 'auto' | 'cards' | 'analytics',
          format: args.format as 'ndjson' | 'csv',
          ...(sample !== undefined ? { sample, seed: intArg(args, 'seed', 0) } : {}),
          waitMs: duration(args, 'wait'),
          intervalMs: duration(args, 'interval'),
          concurrency: intArg(args, 'concurrency', LIMITS.cardConcurrency),
          signal: context.signal,
          onPoll: (p) =>
            context.io.err(
              `reconcile: ${p.withCards.toLocaleString('en-US')} of ${p.rows.toLocaleString('en-US')} rows have ${p.source === 'analytics' ? 'an event' : 'cards'} (${p.cards.toLocaleString('en-US')} ${p.source === 'analytics' ? 'events' : 'cards'}; check ${p.poll})`,
            ),
        }),
      ),
    );
    const s = result.section;
    context.telemetry?.summary({
      runId: result.runId,
      flow: result.flow,
      mode: null,
      outcome: s.outcome,
      rows: null,
      bytes: null,
      rowsByOutcome: s.rowsByOutcome ?? {},
    });
    context.io.out(headline(s));
    context.io.out(`Rows: ${result.folder}/${s.file}`);
    const o = s.rowsByOutcome ?? {};
    if (s.source === 'analytics') {
      if (s.outcome === 'partial')
        context.io.out(
          'Next step: reconciled.csv names each row’s outcome; rows marked "error" could not be made into cards (check the flow and their variables), rows marked "none" had no event: check their target attributes, or run again with --wait while the export’s hours come in.',
        );
      return result.exitCode;
    }
    if (s.sample === null && (o.none ?? 0) > 0)
      context.io.out(
        'Next step: the rows without a card are listed in reconciled.csv; check their target attributes (a row matching no user or more than 10 users makes no card), or run again with --wait if Atomic may still be processing.',
      );
    else if (s.sample === null && (o.reused ?? 0) > 0)
      context.io.out(
        'Next step: rows marked "reused" in reconciled.csv carry a flowInvocationId an earlier send used: Atomic kept that card and made none for them. Give them new ids (or leave the column empty) and send them again.',
      );
    return result.exitCode;
  },
});

/** One line: delivered when every row has a card of this run that reached its user. */
function headline(s: ReconcileSection): string {
  const n = (v: number) => v.toLocaleString('en-US');
  if (s.sample !== null)
    return `${s.rowsByOutcome?.delivered ?? s.withCards} of ${s.rows} sampled rows were delivered: ${percent(s.sample.share)} of the run's ${n(s.sample.runRows)} rows (95 % interval ${percent(s.sample.low)}–${percent(s.sample.high)}).`;
  const o = s.rowsByOutcome ?? {};
  if (s.source === 'analytics') return analyticsHeadline(s, o);
  const delivered = o.delivered ?? s.withCards;
  if (delivered === s.rows)
    return `Delivered: all ${n(s.rows)} rows have cards (${n(s.cards)} cards).`;
  const parts = [
    ['cancelled', o.cancelled],
    ['expired', o.expired],
    ['an earlier send’s card kept for a reused id', o.reused],
    ['a status atomic-bulk does not know', o.other],
    ['no card', o.none],
  ]
    .filter(([, v]) => (v as number | undefined) !== undefined && (v as number) > 0)
    .map(([what, v]) => `${n(v as number)} ${what}`);
  return `Partial: ${n(delivered)} of ${n(s.rows)} rows were delivered; ${parts.join(', ')}.`;
}

/** The headline of --source analytics: published, or what became of the other rows. */
function analyticsHeadline(s: ReconcileSection, o: Record<string, number>): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const published = o.published ?? 0;
  const covered = s.analytics?.coveredThrough ?? null;
  const through = covered === null ? '' : ` (analytics export through ${covered})`;
  if (published === s.rows) return `Published: all ${n(s.rows)} rows have cards${through}.`;
  const parts = ['error', 'cancelled', 'expired', 'embargoed', 'none']
    .filter((k) => (o[k] ?? 0) > 0)
    .map((k) => `${n(o[k] as number)} ${k === 'none' ? 'no event yet' : k}`);
  return `Partial: ${n(published)} of ${n(s.rows)} rows were published; ${parts.join(', ')}${through}.`;
}
