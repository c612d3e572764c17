/**
 * The results report (SPEC 3.2). `report.json` is this object; its top-level keys are
 * fixed because scripts depend on them, and `schemas/report.schema.json` describes it.
 */
import type { Issue, IssueCode } from './issue.js';

/**
 * 2: rows.sent counts what this invocation uploaded, rows.alreadySent what earlier
 * invocations of the same run did; parts say which; the destination is recorded.
 */
export const REPORT_SCHEMA_VERSION = 2;

export type Command = 'validate' | 'split' | 'send';
export type Outcome = 'success' | 'invalid' | 'partial' | 'failed' | 'interrupted';
export type SendMode = 'live' | 'test';
export type PartStatus = 'pending' | 'uploading' | 'uploaded' | 'failed';
export type LineEndingStyle = 'LF' | 'CRLF' | 'CR' | 'mixed' | 'none';

export interface PartReport {
  number: number;
  /** Data rows in the part. */
  rows: number;
  /** Exact bytes of the part as uploaded, header included. */
  bytes: number;
  sha256: string;
  /** Physical input lines of the part's first and last rows. */
  firstLine: number;
  lastLine: number;
  status: PartStatus;
  attempts: number;
  taskId: string | null;
  /** Time spent uploading, over all attempts; null when never uploaded. */
  uploadMs: number | null;
  /** Why the part failed, secrets removed; null unless failed. */
  error: string | null;
  /** Where the part file is, when it was kept (split, --keep-parts). */
  file: string | null;
  /** Uploaded by an earlier invocation of the same run, not by this one. */
  previouslyUploaded: boolean;
}

export interface Report {
  schemaVersion: number;
  tool: { name: string; version: string };
  command: Command;
  runId: string | null;
  startedAt: string;
  finishedAt: string;
  durationMs: { total: number; validate: number; split: number; upload: number };
  input: {
    source: string;
    /** Every file of a multi-file input, in the order read; absent for one file. */
    files?: string[];
    bytes: number;
    /** Null when the input could not be read whole (a report of a failed first pass). */
    sha256: string | null;
    bom: boolean;
    lineEndings: LineEndingStyle;
  };
  flow: {
    flowConfigId: string | null;
    version: number | string | null;
    mode: SendMode | null;
    source: 'api' | 'file' | null;
  };
  /**
   * sent: rows this invocation uploaded; alreadySent: rows of the run uploaded by earlier
   * invocations (resume, finished re-run) and not again now.
   */
  rows: {
    total: number;
    valid: number;
    invalid: number;
    blank: number;
    sent: number;
    alreadySent: number;
    /**
     * send --campaign: valid rows not sent because their key was sent already (less than
     * --once-per ago, or by an earlier row of this run). sent + alreadySent +
     * skippedAlreadySent <= valid.
     */
    skippedAlreadySent?: number;
  };
  issueCounts: { errors: number; warnings: number; byCode: Partial<Record<IssueCode, number>> };
  issues: Issue[];
  issuesTruncated: boolean;
  parts: PartReport[];
  /** Where `send` uploaded (null for validate, split and dry runs). */
  destination: {
    apiOrigin: string;
    environmentId: string;
    /** When the run's state was first created, if this invocation resumed it. */
    resumedFrom: string | null;
    /** When the run's last part was accepted (by this or an earlier invocation); else null. */
    sentInFullAt: string | null;
  } | null;
  outcome: Outcome;
  exitCode: number;
  /** Set by `send --dry-run`: everything ran but csv-task was never called. */
  dryRun: boolean;
  /** Files written next to report.json, by role. */
  files: {
    rejected: string | null;
    invocations: string | null;
    /** SHA-256 and data rows of invocations.csv as written (sealed with the report). */
    invocationsSha256?: string;
    invocationsRows?: number;
  };
  /** One sentence: what to do next. */
  nextStep: string;
  /** Added by `atomic-bulk reconcile`: which sent rows produced cards. */
  reconcile?: ReconcileSection;
  /** Added by `atomic-bulk cancel`: the run's cards it cancelled (or would). */
  cancel?: CancelSection;
  /** Every cancel of the run, oldest first (the last 100): a second cancel never erases the first. */
  cancels?: CancelSection[];
  /** The --notify notifications of the command that wrote this report, and how each went. */
  notifications?: NotificationRecord[];
  /** send --campaign (SPEC 8): what the campaign's ledger decided for this run. */
  campaign?: CampaignReport;
}

/** A campaign run as report.json records it; no key value appears here. */
export interface CampaignReport {
  name: string;
  keyColumns: string[];
  /** `forever`, or a duration such as `30d`. */
  oncePer: string;
  /** Rows whose key was sent less than oncePer ago (by an earlier run). */
  skippedAlreadySent: number;
  /** Rows whose key an earlier row of this run already has. */
  skippedRepeated: number;
  /** Rows whose key was sent longer than oncePer ago: sent again, with a new id. */
  sentAgain: number;
  /** Entries in the campaign's ledger when the report was written. */
  ledgerEntries: number;
  /** Requests this run made to S3 for the ledger (0 when it is a local folder), its lease's (create, renew, release) not counted. */
  ledgerRequests: number;
  /** The skipped rows, with when each key was last sent; null when none was skipped. */
  skippedFile: string | null;
  /** --rate: rows per slot, the slot, and when the last part is due. */
  pace: { rows: number; slotMs: number; slots: number; expectedEnd: string } | null;
  /** --window: the hours parts may be requested in, and the time zone. */
  window: { from: string; to: string; timeZone: string } | null;
}

/** One notification as report.json records it: where (origin only), and how it went. */
export interface NotificationRecord {
  /** The receiver's origin: paths of webhook URLs are secrets (Slack's are). */
  to: string;
  ok: boolean;
  /** The last HTTP status, or null when no answer came. */
  status: number | null;
  attempts: number;
  /** Why it failed, without secrets; null when it went through. */
  error: string | null;
}

export interface ReconcileSection {
  checkedAt: string;
  /**
   * per-id: one query per invocation id; template: the flow's cards paged and matched;
   * sample; analytics: the analytics export's events joined to the rows (SPEC 6.1).
   */
  strategy: 'per-id' | 'template' | 'sample' | 'analytics';
  /** Where the outcomes came from: the Cards API, or the analytics export. */
  source?: 'cards' | 'analytics';
  /** Why --source auto took the source it took. */
  sourceReason?: string;
  /** Rows checked (the run's sent rows, or the sample). */
  rows: number;
  withCards: number;
  withoutCards: number;
  cards: number;
  cardsByStatus: Record<string, number>;
  /**
   * Rows by what became of them: delivered (a card of this run reached its user),
   * cancelled, expired, reused (an earlier send's card kept for the same id), other
   * (a status atomic-bulk does not know), none (no card yet).
   */
  rowsByOutcome?: Record<string, number>;
  /** Queries made, and polls of --wait. */
  requests: number;
  polls: number;
  waitedMs: number;
  /** For --sample: the run's rows, the share delivered and its 95 % (Wilson) interval. */
  sample: { runRows: number; share: number; low: number; high: number } | null;
  /** delivered: every row checked was delivered; partial: some were not (rowsByOutcome). */
  outcome: 'delivered' | 'partial';
  exitCode: number;
  file: string;
  /** Rows by outcome per part that sent them; null when the parts do not account for the rows. */
  byPart?: { part: number; rows: number; byOutcome: Record<string, number> }[] | null;
  /** --source analytics: what the export held and how much of it could be used. */
  analytics?: AnalyticsReconcile;
}

/** The analytics export as one reconcile read it. */
export interface AnalyticsReconcile {
  format: 'ndjson' | 'csv';
  files: number;
  /** The export is complete from the run's start through this time; null when it does not say. */
  coveredThrough: string | null;
  /** First and last event matched to a row of the run. */
  firstEvent: string | null;
  lastEvent: string | null;
  lines: number;
  events: number;
  /** Events matched to rows of this run, and events of its ids from before it started. */
  matched: number;
  earlier: number;
  otherKinds: number;
  withoutId: number;
  unreadable: number;
  /** Keys (never values) of the first line that could not be read. */
  unreadableKeys: string | null;
  /** Rows with display, completion and dismissal events. */
  engagement: { displayed: number; completed: number; dismissed: number };
}

export interface CancelSection {
  at: string;
  /** False when --yes was not given: nothing was cancelled. */
  applied: boolean;
  scope: { status: string | null; userId: string | null };
  rows: number;
  /** Rows with cards in scope not cancelled yet, and those cards. */
  rowsMatched: number;
  cardsMatched: number;
  cardsByStatus: Record<string, number>;
  cancelled: number;
  requests: number;
  exitCode: number;
}
