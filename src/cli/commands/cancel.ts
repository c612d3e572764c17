/** `atomic-bulk cancel <report-dir | run-id>`: cancel the cards a run created. */
import { DEFAULTS, LIMITS } from '../../model/limits.js';
import { withApi } from '../api-args.js';
import { notifierFor, withNotice } from '../notify-args.js';
import { defineCommand } from './command.js';
import { GROUPS, intArg, progressFor, sentRunOptions, stringArg } from '../options.js';

export const cancelCommand = defineCommand({
  command: 'cancel <run>',
  describe:
    'Cancel the cards a run created (only that run’s: scoped by its invocation ids); --yes to act',
  builder: (y) =>
    sentRunOptions(y, DEFAULTS.cancelConcurrency)
      .option('yes', {
        type: 'boolean',
        default: false,
        describe: 'Cancel. Without it nothing changes: the command says what it would cancel',
        group: GROUPS.sending,
      })
      .option('status', {
        type: 'string',
        describe: 'Only cards with this status (e.g. active)',
        group: GROUPS.sending,
      })
      .option('user', {
        type: 'string',
        describe: 'Only this user’s cards',
        group: GROUPS.sending,
      })
      .option('cancel-path', {
        type: 'string',
        describe:
          'Path of the cancel request, {env} for the environment [env ATOMIC_CANCEL_PATH; default /v1/{env}/cards/cancel] (assumed: Atomic does not publish it)',
        group: GROUPS.connection,
      })
      .example([
        ['$0 cancel <report-dir>', 'Count the cards the run created; change nothing'],
        ['$0 cancel <report-dir> --yes', 'Cancel them'],
        ['$0 cancel <run-id> --status active --yes', 'Cancel only the still-active ones'],
      ]),
  async run(args, context) {
    // Loaded when the command runs: --help and the other commands do not pay for it.
    const { cancel } = await import('../../pipeline/cancel.js');
    const progress = progressFor({ progress: 'none' }, context);
    const status = stringArg(args, 'status');
    const userId = stringArg(args, 'user');
    const yes = args.yes;
    const notifier = notifierFor(args, context, 'cancel');
    const result = await withNotice(notifier, () =>
      withApi(args, context, progress.sink, ({ api }) =>
        cancel({
          notifier,
          target: stringArg(args, 'run') as string,
          stateDir: stringArg(args, 'state-dir'),
          api,
          yes,
          ...(status !== undefined ? { status } : {}),
          ...(userId !== undefined ? { userId } : {}),
          concurrency: intArg(args, 'concurrency', LIMITS.cardConcurrency),
          signal: context.signal,
          onProgress: (p) =>
            context.io.err(
              `cancel: ${p.rows.toLocaleString('en-US')} of ${p.of.toLocaleString('en-US')} rows done, ${p.cancelled.toLocaleString('en-US')} cards cancelled`,
            ),
        }),
      ),
    );
    const s = result.section;
    context.telemetry?.summary({
      runId: result.runId,
      flow: result.flow,
      mode: null,
      outcome: s.applied ? 'cancelled' : 'counted',
      rows: null,
      bytes: null,
    });
    const scope = [
      s.scope.status !== null ? `status ${s.scope.status}` : null,
      s.scope.userId !== null ? 'one user' : null,
    ].filter((x) => x !== null);
    const matched = `${s.cardsMatched.toLocaleString('en-US')} cards of ${s.rowsMatched.toLocaleString('en-US')} of the run's ${s.rows.toLocaleString('en-US')} rows${scope.length > 0 ? ` (${scope.join(', ')})` : ''}`;
    if (!s.applied) {
      context.io.out(`Would cancel ${matched}. Nothing was changed.`);
      if (s.cardsMatched > 0)
        context.io.out('Next step: run the same command with --yes to cancel them.');
    } else {
      context.io.out(
        `Cancelled ${s.cancelled.toLocaleString('en-US')} cards (${matched} were in scope).`,
      );
    }
    context.io.out(`Report: ${result.folder}/report.md`);
    return result.exitCode;
  },
});
