/**
 * A send within a recurring campaign (SPEC 8), as the send's steps see it: the campaign's
 * ledger opened under its lock before anything is read, the first pass's key collector,
 * the decisions between the passes (frozen for a resume of the same run), the second
 * pass's selection and ids, one journal per accepted part, and the run's end.
 */
import { join } from 'node:path';
import type { AtomicApi } from '../api/client.js';
import { CampaignSecret, type CampaignIds, type KeyHasher } from '../campaign/campaign-secret.js';
import { openCampaignStore } from '../campaign/campaign-store.js';
import { decide, DECISION_BYTES, KeyCollector, type Decisions } from '../campaign/check.js';
import { CampaignPass } from '../campaign/campaign-pass.js';
import { CampaignLedger, fileName, type OpenRun } from '../campaign/ledger.js';
import { oncePerText } from '../campaign/schedule.js';
import { MergedCursor, RecordWriter, type Cursor } from '../files/sorted-runs.js';
import type { CheckedBatch } from '../model/checked-batch.js';
import { AtomicBulkError } from '../model/errors.js';
import type { Part } from '../model/part.js';
import type { CampaignReport, Outcome } from '../model/report.js';
import type { RecordSet } from '../model/record-set.js';
import type { ReportDir } from '../report/report-dir.js';
import { SkippedCsvWriter } from '../report/skipped-csv.js';
import type { LineMap } from '../model/line-map.js';
import type { CampaignOptions, ResolvedSendOptions } from './send-options.js';

export const SKIPPED_FILE = 'skipped.csv';

/** The campaign secret: the user's, or one derived from the client credentials. */
export function campaignSecret(secret: string | undefined, api: AtomicApi | null): CampaignSecret {
  if (secret !== undefined) return CampaignSecret.fromText(secret);
  if (api === null)
    throw new AtomicBulkError(
      'CONFIG',
      'A campaign needs its secret: the Atomic client credentials or ATOMIC_BULK_CAMPAIGN_SECRET.',
      {
        hint: 'Set ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET (or ATOMIC_BULK_CAMPAIGN_SECRET), also for --dry-run.',
      },
    );
  return CampaignSecret.fromCredentials(api.sealer);
}

interface Counts {
  skippedSent: number;
  skippedRepeat: number;
  sentAgain: number;
}

export class SendCampaign {
  readonly collector: KeyCollector;
  private readonly hasher: KeyHasher;
  private counts: Counts = { skippedSent: 0, skippedRepeat: 0, sentAgain: 0 };
  private decisions: Cursor | null = null;
  private epoch = 0;
  private pass: CampaignPass | null = null;
  private skippedWriter: SkippedCsvWriter | null = null;
  private skippedFile: string | null = null;
  readonly ids: CampaignIds;
  /** When this run's decisions were made (a resumed run: when they were first made). */
  private plannedAt = new Date(0);

  private constructor(
    private readonly options: ResolvedSendOptions,
    private readonly campaign: CampaignOptions,
    private readonly ledger: CampaignLedger,
    secret: CampaignSecret,
  ) {
    this.hasher = secret.hasher(campaign.name);
    this.collector = new KeyCollector(this.hasher, campaign.keyColumns, ledger.store.work);
    this.ids = secret.ids(campaign.name, options.flowConfigId, options.mode);
  }

  /** Opens the campaign's ledger under its lock (BUSY, exit 3, while another run holds it). */
  static async open(
    options: ResolvedSendOptions,
    campaign: CampaignOptions,
  ): Promise<SendCampaign> {
    const secret = campaignSecret(campaign.secret, options.api);
    const store = await openCampaignStore(options.stateDir, campaign.name, {
      s3Endpoint: options.s3Endpoint,
      ttlMs: options.leaseTtlMs,
      noLease: options.noLease,
      warn: (text) => options.progress({ type: 'message', level: 'warn', text }),
    });
    try {
      const ledger = await CampaignLedger.open({
        store,
        name: campaign.name,
        secret,
        now: options.now,
        create: { keyColumns: campaign.keyColumns, destination: destinationOf(options) },
      });
      checkSameCampaign(ledger, campaign, options);
      return new SendCampaign(options, campaign, ledger, secret);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** The first pass's hook: every checked batch. */
  observe = (batch: CheckedBatch): Promise<void> => this.collector.observe(batch);

  /**
   * Between the passes: the decisions for this run, frozen in the ledger for a live run so
   * a resume cuts the same parts, or reused when this run was started before.
   *
   * `started`: when the run started. It is the run's time for the ledger — both the "now"
   * its keys are compared with and the time they are recorded as sent — so a daily job is
   * compared start to start, whatever its validation or its uploads took on either day.
   */
  async decide(runId: string, invalid: RecordSet, live: boolean, started: Date): Promise<void> {
    const { ledger } = this;
    await ledger.fold();
    const open = live ? ledger.openRunOf(runId) : null;
    if (open !== null) {
      await this.collector.sorter.dispose();
      this.counts = frozenCounts(open);
      this.plannedAt = plannedAt(open.startedAt, started);
      this.epoch = open.epoch;
      this.decisions = await ledger.cursor(open.decisions, DECISION_BYTES, 'Decisions');
      return;
    }
    this.plannedAt = started;
    const made = await decide(ledger, this.collector.sorter, {
      oncePerSeconds: this.campaign.oncePerSeconds,
      now: this.plannedAt,
      invalid,
      workDir: ledger.store.work,
    });
    this.counts = {
      skippedSent: made.skippedSent,
      skippedRepeat: made.skippedRepeat,
      sentAgain: made.sentAgain,
    };
    this.epoch = ledger.manifest.epoch;
    if (!live) {
      this.decisions = new MergedCursor(await made.sorter.sources(), DECISION_BYTES, 4);
      return;
    }
    this.decisions = await this.freeze(runId, made);
  }

  /** Writes the decisions into the ledger as the run's frozen plan; returns a cursor over them. */
  private async freeze(runId: string, made: Decisions): Promise<Cursor> {
    const name = fileName('decisions');
    const writer = new RecordWriter(join(this.ledger.store.work, name), DECISION_BYTES);
    const merged = new MergedCursor(await made.sorter.sources(), DECISION_BYTES, 4);
    try {
      while (await merged.fill())
        for (let at = merged.pos; at < merged.end; at += DECISION_BYTES)
          await writer.add(merged.buf, at);
    } finally {
      await merged.close();
      await made.sorter.dispose();
    }
    const ref = await this.ledger.putFile(writer, name);
    const run: OpenRun = {
      runId,
      startedAt: this.plannedAt.toISOString(),
      decisions: ref,
      epoch: this.epoch,
      ...this.counts,
    };
    await this.ledger.openRun(run);
    return this.ledger.cursor(ref, DECISION_BYTES, 'Decisions');
  }

  /** The next step of a run that had nothing left to send. */
  nothingLeftNextStep(): string {
    return `Nothing to send: the key of every valid row was sent already in campaign ${this.campaign.name}${this.campaign.oncePerSeconds === null ? '' : ` less than ${oncePerText(this.campaign.oncePerSeconds)} ago`}; skipped.csv lists the rows and when each key was last sent. Nothing to do.`;
  }

  /** Whether the ledger holds this run as started and unfinished (its plan is frozen). */
  isOpen(runId: string): boolean {
    return this.ledger.openRunOf(runId) !== null;
  }

  get skipped(): number {
    return this.counts.skippedSent + this.counts.skippedRepeat;
  }

  /** The second pass's selection: skipped rows out (to skipped.csv), ids for the rest. */
  select(
    batches: AsyncIterable<CheckedBatch>,
    skipped: { dir: ReportDir; header: string[]; lines: LineMap } | null,
  ): AsyncIterable<CheckedBatch> {
    if (this.decisions === null) throw new Error('SendCampaign.select before decide');
    if (skipped !== null && this.skipped > 0) {
      this.skippedWriter = new SkippedCsvWriter(
        skipped.dir.stream(SKIPPED_FILE),
        skipped.header,
        skipped.lines,
      );
    }
    const writer = this.skippedWriter;
    this.pass = new CampaignPass({
      hasher: this.hasher,
      keyColumns: this.campaign.keyColumns,
      ids: this.ids,
      decisions: this.decisions,
      epoch: this.epoch,
      workDir: this.ledger.store.work,
      journals: !this.options.dryRun,
      onSkipped:
        writer === null
          ? null
          : (records, index, lastSentAt, repeatOf) =>
              writer.add(
                records,
                index,
                lastSentAt !== null ? isoSeconds(lastSentAt) : `this file, row ${repeatOf}`,
              ),
    });
    return this.pass.select(batches);
  }

  /** skipped.csv put in place (after the second pass), or dropped on failure. */
  async closeSkipped(dir: ReportDir, ok: boolean): Promise<void> {
    const writer = this.skippedWriter;
    this.skippedWriter = null;
    if (writer === null) return;
    await writer.close();
    if (ok) {
      await dir.commit(SKIPPED_FILE);
      this.skippedFile = SKIPPED_FILE;
    } else await dir.abandon(SKIPPED_FILE);
  }

  /** A part Atomic accepted: its keys count as sent from now on (one journal file). */
  async accepted(runId: string, part: Part): Promise<void> {
    if (this.pass === null) return;
    const path = join(this.ledger.store.work, `journal-${part.number}-${Date.now()}.bin`);
    // A key's time is when its run planned it, not when its part went out: a daily job
    // with --once-per 7d sends again on the eighth day whatever the hour each part left.
    const writer = await this.pass.journal(part.firstRecord, part.lastRecord, this.plannedAt, path);
    await this.ledger.addJournal(runId, part.number, writer);
  }

  /** A run whose every part is accepted: its journals become a segment, its plan is dropped. */
  async finished(runId: string, started: Date, sent: number, outcome: Outcome): Promise<void> {
    await this.ledger.finishRun({
      runId,
      startedAt: started.toISOString(),
      finishedAt: this.options.now().toISOString(),
      sent,
      skipped: this.skipped,
      outcome,
      oncePer: oncePerText(this.campaign.oncePerSeconds),
    });
  }

  report(pace: CampaignReport['pace'], window: CampaignReport['window']): CampaignReport {
    return {
      name: this.campaign.name,
      keyColumns: this.campaign.keyColumns,
      oncePer: oncePerText(this.campaign.oncePerSeconds),
      skippedAlreadySent: this.counts.skippedSent,
      skippedRepeated: this.counts.skippedRepeat,
      sentAgain: this.counts.sentAgain,
      ledgerEntries: this.ledger.entries,
      ledgerRequests: this.ledger.store.requests,
      skippedFile: this.skippedFile,
      pace,
      window,
    };
  }

  /** Releases the lock or lease; removes the work folder. */
  async close(): Promise<void> {
    await this.decisions?.close().catch(() => undefined);
    await this.collector.sorter.dispose().catch(() => undefined);
    await this.ledger.store.close();
  }
}

/** The counts of a run's frozen plan (from a sealed manifest; still only numbers are taken). */
function frozenCounts(open: OpenRun): Counts {
  const n = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0);
  return {
    skippedSent: n(open.skippedSent),
    skippedRepeat: n(open.skippedRepeat),
    sentAgain: n(open.sentAgain),
  };
}

const isoTexts = new Map<number, string>();
/** Seconds since the epoch as ISO text, remembered (a run's skipped rows share few times). */
function isoSeconds(seconds: number): string {
  let text = isoTexts.get(seconds);
  if (text === undefined) {
    text = new Date(seconds * 1000).toISOString();
    if (isoTexts.size < 1024) isoTexts.set(seconds, text);
  }
  return text;
}

/** A frozen plan's time, as written in the sealed manifest; `fallback` if unreadable. */
function plannedAt(text: string, fallback: Date): Date {
  const t = Date.parse(text);
  return Number.isNaN(t) ? fallback : new Date(t);
}

function destinationOf(options: ResolvedSendOptions) {
  const api = options.api;
  return api === null
    ? null
    : {
        origin: api.destination.apiOrigin,
        environmentId: api.destination.environmentId,
        flowConfigId: options.flowConfigId,
        mode: options.mode,
      };
}

/** A campaign keeps its key columns and its destination: another would make every key new. */
function checkSameCampaign(
  ledger: CampaignLedger,
  c: CampaignOptions,
  options: ResolvedSendOptions,
): void {
  const m = ledger.manifest;
  if (m.keyColumns.join('\u0000') !== c.keyColumns.join('\u0000'))
    throw new AtomicBulkError(
      'USAGE',
      `Campaign ${c.name} is keyed by ${m.keyColumns.join(', ')}; this send names ${c.keyColumns.join(', ')}.`,
      {
        hint: "Use the campaign's key columns (--campaign-key), or a new campaign name for a new key.",
      },
    );
  const here = destinationOf(options);
  const there = m.destination;
  if (here === null || there === null) return;
  if (
    here.origin !== there.origin ||
    here.environmentId !== there.environmentId ||
    here.flowConfigId !== there.flowConfigId ||
    here.mode !== there.mode
  )
    throw new AtomicBulkError(
      'USAGE',
      `Campaign ${c.name} sends to flow ${there.flowConfigId} (${there.mode}) in environment ${there.environmentId} at ${there.origin}; this send goes elsewhere.`,
      { hint: 'A campaign has one destination: use another campaign name for this one.' },
    );
}
