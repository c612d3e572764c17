/**
 * `atomic-bulk campaign list | show | forget` (SPEC 8): what a state directory's campaigns
 * hold, and erasure. `forget` removes the keys' digests from every segment and journal of
 * the ledger (old files deleted once the manifest names their replacements), under the
 * campaign's lock; it is safe to repeat, and an interrupted one leaves either the old
 * ledger or the new one plus files the next holder removes. Key values are read from
 * --key (one CSV record per value: the key columns in order) or a CSV file with a header
 * (streamed; other columns are ignored).
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { CampaignSecret } from '../campaign/campaign-secret.js';
import { Sealer } from '../model/seal.js';
import { listCampaigns, openCampaignStore } from '../campaign/campaign-store.js';
import { CampaignLedger, ENTRY_BYTES, type LedgerManifest } from '../campaign/ledger.js';
import {
  ExternalSorter,
  FileCursor,
  MergedCursor,
  RecordWriter,
  compare,
  forEach,
} from '../files/sorted-runs.js';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';

/** The campaign secret as sends use it: ATOMIC_BULK_CAMPAIGN_SECRET, else the client credentials. */
export function campaignSecretFromEnv(
  env: Record<string, string | undefined>,
): CampaignSecret | null {
  if (env.ATOMIC_BULK_CAMPAIGN_SECRET)
    return CampaignSecret.fromText(env.ATOMIC_BULK_CAMPAIGN_SECRET);
  if (env.ATOMIC_CLIENT_ID && env.ATOMIC_CLIENT_SECRET)
    return CampaignSecret.fromCredentials(
      Sealer.fromCredentials(env.ATOMIC_CLIENT_ID, env.ATOMIC_CLIENT_SECRET),
    );
  return null;
}

export interface CampaignsOptions {
  stateDir: string;
  secret: CampaignSecret | null;
  s3Endpoint?: string;
  now?: () => Date;
  leaseTtlMs?: number;
}

export interface CampaignSummary {
  name: string;
  where: string;
  createdAt: string;
  keyColumns: string[];
  destination: LedgerManifest['destination'];
  /** Distinct keys in the ledger (counted by reading it). */
  keys: number;
  entries: number;
  ledgerBytes: number;
  segments: number;
  epoch: number;
  forgotten: number;
  unfinishedRuns: string[];
  runs: LedgerManifest['runs'];
  lastRun: LedgerManifest['runs'][number] | null;
}

async function withLedger<T>(
  o: CampaignsOptions,
  name: string,
  fn: (ledger: CampaignLedger) => Promise<T>,
): Promise<T> {
  if (o.secret === null)
    throw new AtomicBulkError(
      'CONFIG',
      'Reading a campaign needs its secret: the Atomic client credentials or ATOMIC_BULK_CAMPAIGN_SECRET.',
      {
        hint: 'Set ATOMIC_CLIENT_ID and ATOMIC_CLIENT_SECRET (or ATOMIC_BULK_CAMPAIGN_SECRET) as for the sends of the campaign.',
      },
    );
  const store = await openCampaignStore(o.stateDir, name, {
    s3Endpoint: o.s3Endpoint,
    ttlMs: o.leaseTtlMs,
  });
  try {
    const ledger = await CampaignLedger.open({
      store,
      name,
      secret: o.secret,
      now: o.now ?? (() => new Date()),
      create: null,
    });
    return await fn(ledger);
  } finally {
    await store.close();
  }
}

export function listCampaignNames(o: CampaignsOptions): Promise<string[]> {
  return listCampaigns(o.stateDir, o.s3Endpoint);
}

export function showCampaign(o: CampaignsOptions, name: string): Promise<CampaignSummary> {
  return withLedger(o, name, async (ledger) => {
    await ledger.fold();
    const m = ledger.manifest;
    let keys = 0;
    const last = Buffer.alloc(16);
    let any = false;
    await forEach(await ledger.entriesCursor(), ENTRY_BYTES, (b, at) => {
      if (any && compare(last, 0, b, at, 16) === 0) return;
      b.copy(last, 0, at, at + 16);
      any = true;
      keys++;
    });
    return {
      name,
      where: printable(ledger.store.where),
      createdAt: m.createdAt,
      keyColumns: m.keyColumns,
      destination: m.destination,
      keys,
      entries: ledger.entries,
      ledgerBytes: ledger.entries * ENTRY_BYTES,
      segments: m.segments.length,
      epoch: m.epoch,
      forgotten: m.forgotten,
      unfinishedRuns: m.openRuns.map((r) => r.runId),
      runs: m.runs,
      lastRun: m.runs.at(-1) ?? null,
    };
  });
}

export interface ForgetResult {
  name: string;
  /** Key values given (after removing repeats). */
  given: number;
  /** Of those, how many the ledger held (and no longer holds). */
  removed: number;
}

/** The keys to forget: --key values (CSV records) and/or a CSV file with a header. */
export interface KeysToForget {
  values: readonly string[];
  file: string | null;
}

export function forgetKeys(
  o: CampaignsOptions,
  name: string,
  keys: KeysToForget,
): Promise<ForgetResult> {
  return withLedger(o, name, async (ledger) => {
    const hasher = (o.secret as CampaignSecret).hasher(name);
    const columns = ledger.manifest.keyColumns;
    const sorter = new ExternalSorter(ledger.store.work, 16);
    for (const value of keys.values) {
      const record: string[][] = parseSync(value, { relax_column_count: true });
      const fields = record[0] ?? [];
      if (record.length !== 1 || fields.length !== columns.length)
        throw new AtomicBulkError(
          'USAGE',
          `--key takes ${columns.length} value(s) per key (${columns.join(', ')}), as one CSV record.`,
        );
      await sorter.add(hasher.digestText(fields), 0);
    }
    if (keys.file !== null)
      await readKeyFile(keys.file, columns, async (fields) =>
        sorter.add(hasher.digestText(fields), 0),
      );
    // Sorted once, without repeats, into a file each segment is compared against.
    const path = join(ledger.store.work, 'forget.bin');
    const writer = new RecordWriter(path, 16);
    const prev = Buffer.alloc(16);
    let given = 0;
    await forEach(new MergedCursor(await sorter.sources(), 16), 16, async (b, at) => {
      if (given > 0 && compare(prev, 0, b, at, 16) === 0) return;
      b.copy(prev, 0, at, at + 16);
      given++;
      await writer.add(b, at);
    });
    await writer.close();
    await sorter.dispose();
    const removed =
      given === 0 ? 0 : await ledger.forget(() => Promise.resolve(new FileCursor(path, 16)));
    return { name, given, removed: Math.min(removed, given) };
  });
}

async function readKeyFile(
  path: string,
  columns: string[],
  each: (fields: string[]) => Promise<void>,
): Promise<void> {
  let positions: number[] | null = null;
  const parser = createReadStream(path).pipe(
    parse({ bom: true, relax_column_count: true, max_record_size: 1 << 20 }),
  );
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (positions === null) {
        positions = columns.map((c) => record.indexOf(c));
        const missing = columns.filter((_, k) => positions![k] === -1);
        if (missing.length > 0)
          throw new AtomicBulkError('USAGE', `The keys file has no ${missing.join(', ')} column.`, {
            hint: "Give a CSV whose header names the campaign's key columns (an export of the campaign works).",
          });
        continue;
      }
      const fields = positions.map((p) => record[p] ?? '');
      if (fields.every((f) => f === '')) continue;
      await each(fields);
    }
  } catch (error) {
    if (error instanceof AtomicBulkError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new AtomicBulkError(
      'INPUT',
      `Cannot read the keys file ${path} (${code ?? 'not a CSV'}).`,
      {},
      error,
    );
  }
}
