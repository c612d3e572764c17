/**
 * send's recurring-campaign flags (SPEC 8) → SendOptions: --campaign, --campaign-key,
 * --once-per, --rate, --window, --timezone; the ledger's secret from
 * ATOMIC_BULK_CAMPAIGN_SECRET; and ATOMIC_BULK_CLOCK, the rehearsal clock (a start time
 * and a speed, e.g. `2026-12-08T08:58:00Z@600`), accepted only against the sandbox or an
 * API on this machine, so pacing and quiet hours can be rehearsed in seconds.
 */
import type { Argv } from 'yargs';
import { isLoopbackHost } from '../model/secure-url.js';
import { AtomicBulkError } from '../model/errors.js';
import { sleep, type SendOptions } from '../pipeline/send-options.js';
import type { CliContext } from './context.js';
import { GROUPS, stringArg, type Args } from './options.js';

export const CLOCK_ENV = 'ATOMIC_BULK_CLOCK';

export function campaignOptions<T>(y: Argv<T>) {
  return y
    .option('campaign', {
      type: 'string',
      describe:
        'Name of the recurring campaign this send belongs to: each key is sent once per --once-per across its runs (ledger in --state-dir)',
      group: GROUPS.campaign,
    })
    .option('campaign-key', {
      type: 'string',
      array: true,
      describe:
        'Column(s) naming a row within the campaign; repeatable [default: target.attributes.atomic___id]',
      group: GROUPS.campaign,
    })
    .option('once-per', {
      type: 'string',
      describe:
        'A key sent less than this long ago is skipped: forever, or e.g. 12h, 30d [default: forever]',
      group: GROUPS.campaign,
    })
    .option('rate', {
      type: 'string',
      describe:
        'Pace: rows entering Atomic per minute or hour (20000/min, 500000/h); parts are cut to it',
      group: GROUPS.campaign,
    })
    .option('window', {
      type: 'string',
      describe:
        'Quiet hours: parts are requested only between HH:MM-HH:MM (outside: exit 3, run again to resume)',
      group: GROUPS.campaign,
    })
    .option('timezone', {
      type: 'string',
      default: 'UTC',
      describe: 'The IANA time zone of --window (e.g. Europe/London)',
      group: GROUPS.campaign,
    });
}

/** The campaign, pace and window a send was asked for, and the clock it runs on. */
export function campaignFrom(
  args: Args,
  context: CliContext,
): Pick<SendOptions, 'campaign' | 'rate' | 'window' | 'now' | 'sleep'> {
  const name = stringArg(args, 'campaign');
  const keys = Array.isArray(args['campaign-key'])
    ? (args['campaign-key'] as unknown[]).map(String)
    : [];
  const oncePer = stringArg(args, 'once-per');
  if (name === undefined && (keys.length > 0 || oncePer !== undefined))
    throw new AtomicBulkError(
      'USAGE',
      '--campaign-key and --once-per belong to a campaign: add --campaign NAME.',
    );
  const secret = context.io.env.ATOMIC_BULK_CAMPAIGN_SECRET;
  const hours = stringArg(args, 'window');
  const timeZone = stringArg(args, 'timezone') ?? 'UTC';
  if (hours === undefined && args.timezone !== undefined && args.timezone !== 'UTC')
    throw new AtomicBulkError('USAGE', '--timezone goes with --window.');
  return {
    ...(name !== undefined
      ? {
          campaign: {
            name,
            ...(keys.length > 0 ? { keyColumns: keys } : {}),
            ...(oncePer !== undefined ? { oncePer } : {}),
            ...(secret !== undefined && secret !== '' ? { secret } : {}),
          },
        }
      : {}),
    ...(stringArg(args, 'rate') !== undefined ? { rate: stringArg(args, 'rate') } : {}),
    ...(hours !== undefined ? { window: { hours, timeZone } } : {}),
    ...rehearsalClock(args, context),
  };
}

/** ATOMIC_BULK_CLOCK: `<ISO time>@<speed>`; only where no real campaign can be reached. */
function rehearsalClock(args: Args, context: CliContext): Pick<SendOptions, 'now' | 'sleep'> {
  const text = context.io.env[CLOCK_ENV];
  if (text === undefined || text === '') return {};
  const base = stringArg(args, 'base-url') ?? context.io.env.ATOMIC_BASE_URL;
  const local = args.sandbox === true || (base !== undefined && isLoopbackHost(hostOf(base)));
  if (!local)
    throw new AtomicBulkError(
      'USAGE',
      `${CLOCK_ENV} is for rehearsals: it works with --sandbox or an API on this machine only.`,
      {
        hint: `Unset ${CLOCK_ENV} to send to Atomic.`,
      },
    );
  const m = /^(.+)@([1-9]\d{0,6})$/.exec(text);
  const start = m === null ? NaN : Date.parse(m[1] as string);
  if (m === null || Number.isNaN(start))
    throw new AtomicBulkError(
      'USAGE',
      `${CLOCK_ENV} is <ISO time>@<speed>, e.g. 2026-12-08T08:58:00Z@600.`,
    );
  const speed = Number(m[2]);
  const realStart = Date.now();
  return {
    now: () => new Date(start + (Date.now() - realStart) * speed),
    sleep: (ms, signal) => sleep(Math.ceil(ms / speed), signal),
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
