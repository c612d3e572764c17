/**
 * A campaign's ledger (SPEC 8): which keys were sent, when, and how many times, as keyed
 * digests (no key value is ever written). On disk it is a few sorted segment files of
 * 24-byte entries, journals of the parts accepted since the last run ended, and a sealed
 * manifest that names every file with its size and SHA-256:
 *
 *   entry = digest (16) | sentAt, seconds (u32) | occurrence (u16) | epoch (u16)
 *
 * A run appends one journal per accepted part (work proportional to what was sent); at its
 * end the journals are sorted into one new segment, and segments are merged only when
 * there are many of them (the small ones first), so a 50-million-key ledger is not
 * rewritten per part or per run. Reading the ledger is a k-way merge of its segments in
 * digest order: memory is one read buffer per segment.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import { openSealed, sealJson, type Sealer } from '../model/seal.js';
import type { CampaignSecret } from './campaign-secret.js';
import { DATA_FILE, type CampaignStore } from './campaign-store.js';
import {
  ExternalSorter,
  FileCursor,
  MergedCursor,
  RecordWriter,
  compare,
  forEach,
  type Cursor,
} from '../files/sorted-runs.js';

export const ENTRY_BYTES = 24;
const DIGEST = 16;
/** More segments than this and the smallest are merged. */
const MAX_SEGMENTS = 6;
/** Runs remembered in the manifest for `campaign show`. */
const MAX_RUNS = 50;
/** Unfinished runs whose decisions are kept for their resume. */
const MAX_OPEN_RUNS = 16;

export interface FileRef {
  name: string;
  entries: number;
  sha256: string;
}

export interface JournalRef extends FileRef {
  runId: string;
  part: number;
}

/** A run that started sending and has not finished: its decisions, frozen for its resume. */
export interface OpenRun {
  runId: string;
  startedAt: string;
  decisions: FileRef;
  epoch: number;
  skippedSent: number;
  skippedRepeat: number;
  sentAgain: number;
}

export interface RunRecord {
  runId: string;
  startedAt: string;
  finishedAt: string;
  sent: number;
  skipped: number;
  outcome: string;
  /** The run's --once-per (`forever`, `30d`, …). */
  oncePer?: string;
}

export interface Destination {
  origin: string;
  environmentId: string;
  flowConfigId: string;
  mode: string;
}

export interface LedgerManifest {
  version: 1;
  campaign: string;
  createdAt: string;
  check: string;
  keyColumns: string[];
  destination: Destination | null;
  /** Raised by each `forget` that removed keys; part of every new key's ids. */
  epoch: number;
  forgotten: number;
  segments: FileRef[];
  journals: JournalRef[];
  openRuns: OpenRun[];
  runs: RunRecord[];
}

export function fileName(kind: 'seg' | 'journal' | 'decisions', suffix = ''): string {
  return `${kind}-${randomBytes(8).toString('hex')}${suffix}.bin`;
}

const HEX64 = /^[0-9a-f]{64}$/;
function isRef(v: unknown): v is FileRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as FileRef;
  return (
    typeof r.name === 'string' &&
    DATA_FILE.test(r.name) &&
    Number.isSafeInteger(r.entries) &&
    r.entries >= 0 &&
    typeof r.sha256 === 'string' &&
    HEX64.test(r.sha256)
  );
}

/** Checks the shape of a manifest whose seal verified (defence in depth: bounded, typed). */
function checkShape(m: Record<string, unknown>, name: string): LedgerManifest {
  const ok =
    m.version === 1 &&
    m.campaign === name &&
    Array.isArray(m.keyColumns) &&
    m.keyColumns.every((k) => typeof k === 'string') &&
    Number.isSafeInteger(m.epoch) &&
    (m.epoch as number) >= 0 &&
    (m.epoch as number) <= 0xffff &&
    Array.isArray(m.segments) &&
    m.segments.every(isRef) &&
    Array.isArray(m.journals) &&
    m.journals.every(isRef) &&
    Array.isArray(m.openRuns) &&
    m.openRuns.every((r: OpenRun) => isRef(r.decisions) && typeof r.runId === 'string') &&
    Array.isArray(m.runs);
  if (!ok)
    throw new AtomicBulkError(
      'STATE',
      `The ledger of campaign ${name} is not one atomic-bulk wrote.`,
    );
  return m as unknown as LedgerManifest;
}

export interface LedgerOpen {
  store: CampaignStore;
  name: string;
  secret: CampaignSecret;
  now: () => Date;
  /** For a send: creates the ledger when there is none; null opens an existing one only. */
  create: { keyColumns: string[]; destination: Destination | null } | null;
}

export class CampaignLedger {
  readonly store: CampaignStore;
  readonly name: string;
  private readonly sealer: Sealer;
  private readonly now: () => Date;

  private constructor(
    { store, name, now }: LedgerOpen,
    sealer: Sealer,
    public manifest: LedgerManifest,
    /** True until the first write of a new ledger. */
    private fresh: boolean,
  ) {
    this.store = store;
    this.name = name;
    this.sealer = sealer;
    this.now = now;
  }

  static async open(o: LedgerOpen): Promise<CampaignLedger> {
    const sealer = o.secret.sealer(o.name);
    const text = await o.store.readManifest();
    if (text === null) return new CampaignLedger(o, sealer, newManifest(o), true);
    const ledger = new CampaignLedger(o, sealer, readManifest(o, sealer, text), false);
    await ledger.sweep();
    return ledger;
  }

  /** Data files no manifest names: left by a crash (or planted); removed. */
  private async sweep(): Promise<void> {
    const named = new Set(this.files().map((f) => f.name));
    for (const n of await this.store.list()) if (!named.has(n)) await this.store.remove(n);
  }

  private files(): FileRef[] {
    const m = this.manifest;
    return [...m.segments, ...m.journals, ...m.openRuns.map((r) => r.decisions)];
  }

  /** Entries in segments and journals (a key sent twice counts twice until merged). */
  get entries(): number {
    return [...this.manifest.segments, ...this.manifest.journals].reduce(
      (n, f) => n + f.entries,
      0,
    );
  }

  async save(): Promise<void> {
    await this.store.writeManifest(sealJson(this.sealer, 'campaign', this.manifest));
    this.fresh = false;
  }

  /** Writes a new ledger's manifest, so its secret and key columns are pinned. */
  async ensureSaved(): Promise<void> {
    if (this.fresh) await this.save();
  }

  /** A cursor over one data file, checked against its size and digest as it is read. */
  async cursor(ref: FileRef, width: number, what: string): Promise<Cursor> {
    return new FileCursor(await this.store.get(ref.name), width, {
      sha256: ref.sha256,
      entries: ref.entries,
      what: `${what} ${ref.name} of campaign ${this.name}`,
    });
  }

  /** Every entry of the ledger, in digest order (segments only: fold journals first). */
  async entriesCursor(): Promise<Cursor> {
    const sources: Cursor[] = [];
    for (const s of this.manifest.segments)
      sources.push(await this.cursor(s, ENTRY_BYTES, 'Segment'));
    return new MergedCursor(sources, ENTRY_BYTES, DIGEST);
  }

  /** Writes a finished local file into the store and returns its reference. */
  async putFile(writer: RecordWriter, name: string): Promise<FileRef> {
    const sha256 = await writer.close(true);
    await this.store.put(name, writer.path);
    return { name, entries: writer.entries, sha256 };
  }

  /** Records the keys of an accepted part: one journal file, named in the manifest. */
  async addJournal(runId: string, part: number, writer: RecordWriter): Promise<void> {
    const name = fileName('journal', `-${part}`);
    const ref = await this.putFile(writer, name);
    const m = this.manifest;
    const earlier = m.journals.filter((j) => j.runId === runId && j.part === part);
    m.journals = [...m.journals.filter((j) => !earlier.includes(j)), { ...ref, runId, part }];
    await this.save();
    for (const j of earlier) await this.store.remove(j.name);
  }

  /**
   * Sorts every journal into one new segment, then merges segments when there are too
   * many. Each step writes new files, then the manifest, then removes the old files: an
   * interruption leaves either the old ledger or the new one, plus files the next holder
   * sweeps away.
   */
  async fold(): Promise<void> {
    const m = this.manifest;
    if (m.journals.length > 0) {
      const sorter = new ExternalSorter(this.store.work, ENTRY_BYTES, DIGEST);
      try {
        for (const j of m.journals)
          await forEach(await this.cursor(j, ENTRY_BYTES, 'Journal'), ENTRY_BYTES, (b, at) =>
            sorter.add(b, at),
          );
        const merged = new MergedCursor(await sorter.sources(), ENTRY_BYTES, DIGEST);
        const ref = await this.writeMerged(merged, false);
        const old = m.journals;
        m.journals = [];
        if (ref.entries > 0) m.segments = [...m.segments, ref];
        await this.save();
        for (const j of old) await this.store.remove(j.name);
        if (ref.entries === 0) await this.store.remove(ref.name);
      } finally {
        await sorter.dispose();
      }
    }
    await this.compact();
  }

  /** Merges the smallest segments while there are more than MAX_SEGMENTS. */
  async compact(force = false): Promise<void> {
    const m = this.manifest;
    if (m.segments.length <= (force ? 0 : MAX_SEGMENTS)) return;
    const bySize = [...m.segments].sort((a, b) => a.entries - b.entries);
    const take = force ? bySize : bySize.slice(0, m.segments.length - MAX_SEGMENTS / 2 + 1);
    const sources: Cursor[] = [];
    for (const s of take) sources.push(await this.cursor(s, ENTRY_BYTES, 'Segment'));
    const ref = await this.writeMerged(new MergedCursor(sources, ENTRY_BYTES, DIGEST), true);
    m.segments = [...m.segments.filter((s) => !take.includes(s)), ref];
    await this.save();
    for (const s of take) await this.store.remove(s.name);
  }

  /** Writes a merged stream as a segment; `latest` keeps one entry per digest (the newest). */
  private async writeMerged(cursor: Cursor, latest: boolean): Promise<FileRef> {
    const name = fileName('seg');
    const writer = new RecordWriter(join(this.store.work, name), ENTRY_BYTES);
    const held = Buffer.alloc(ENTRY_BYTES);
    let holding = false as boolean;
    try {
      await forEach(cursor, ENTRY_BYTES, async (b, at) => {
        if (!latest) return writer.add(b, at);
        if (holding && compare(held, 0, b, at, DIGEST) === 0) {
          if (newer(b, at, held, 0)) b.copy(held, 0, at, at + ENTRY_BYTES);
          return;
        }
        if (holding) await writer.add(held, 0);
        b.copy(held, 0, at, at + ENTRY_BYTES);
        holding = true;
      });
      if (holding) await writer.add(held, 0);
      return await this.putFile(writer, name);
    } catch (error) {
      await writer.discard();
      throw error;
    }
  }

  /** Adds a finished run to the history and forgets its frozen decisions. */
  async finishRun(record: RunRecord): Promise<void> {
    const m = this.manifest;
    const done = m.openRuns.filter((r) => r.runId === record.runId);
    m.openRuns = m.openRuns.filter((r) => r.runId !== record.runId);
    m.runs = [...m.runs, record].slice(-MAX_RUNS);
    await this.fold();
    await this.save();
    for (const r of done) await this.store.remove(r.decisions.name);
  }

  /** Records a run that starts sending, with its decisions (kept for its resume). */
  async openRun(run: OpenRun): Promise<void> {
    const m = this.manifest;
    const dropped = [
      ...m.openRuns.filter((r) => r.runId === run.runId),
      ...m.openRuns.filter((r) => r.runId !== run.runId).slice(0, -(MAX_OPEN_RUNS - 1)),
    ];
    m.openRuns = [...m.openRuns.filter((r) => !dropped.includes(r)), run];
    await this.save();
    for (const r of dropped)
      if (r.decisions.name !== run.decisions.name) await this.store.remove(r.decisions.name);
  }

  openRunOf(runId: string): OpenRun | null {
    return this.manifest.openRuns.find((r) => r.runId === runId) ?? null;
  }

  /**
   * Erasure: removes every entry of the given digests (a sorted cursor of 16-byte digests)
   * from every segment, journals folded in first; the old files are deleted once the
   * manifest names the new ones (the whole ledger is merged into one segment first, which
   * an erasure may cost). Returns how many keys were found. Raises the epoch, so a
   * key sent again after this gets a new flowInvocationId.
   */
  async forget(digests: () => Promise<Cursor>): Promise<number> {
    await this.fold();
    await this.sweep();
    // One segment, one entry per key: what is removed is then counted in keys.
    await this.compact(true);
    const m = this.manifest;
    let found = 0;
    const replaced: FileRef[] = [];
    const next: FileRef[] = [];
    for (const seg of m.segments) {
      const kept = await this.without(seg, await digests());
      if (kept === null) {
        next.push(seg);
        continue;
      }
      found += seg.entries - kept.entries;
      replaced.push(seg);
      if (kept.entries > 0) next.push(kept);
      else await this.store.remove(kept.name);
    }
    if (replaced.length === 0) return 0;
    m.segments = next;
    m.epoch = Math.min(0xffff, m.epoch + 1);
    m.forgotten += found;
    await this.save();
    for (const s of replaced) await this.store.remove(s.name);
    return found;
  }

  /** A copy of the segment without the digests, or null when it holds none of them. */
  private async without(seg: FileRef, digests: Cursor): Promise<FileRef | null> {
    const name = fileName('seg');
    const writer = new RecordWriter(join(this.store.work, name), ENTRY_BYTES);
    let removed = 0;
    let have = await digests.fill();
    try {
      await forEach(await this.cursor(seg, ENTRY_BYTES, 'Segment'), ENTRY_BYTES, async (b, at) => {
        while (have && compare(digests.buf, digests.pos, b, at, DIGEST) < 0) {
          digests.pos += DIGEST;
          if (digests.pos >= digests.end) have = await digests.fill();
        }
        if (have && compare(digests.buf, digests.pos, b, at, DIGEST) === 0) {
          removed++;
          return;
        }
        await writer.add(b, at);
      });
    } finally {
      await digests.close();
    }
    if (removed === 0) {
      await writer.discard();
      return null;
    }
    return this.putFile(writer, name);
  }
}

/** Whether entry a was written after entry b (later send; same second: higher occurrence). */
export function newer(a: Buffer, ai: number, b: Buffer, bi: number): boolean {
  const ta = a.readUInt32BE(ai + 16);
  const tb = b.readUInt32BE(bi + 16);
  if (ta !== tb) return ta > tb;
  return a.readUInt16BE(ai + 20) > b.readUInt16BE(bi + 20);
}

/** A new campaign's manifest (send only; other commands open existing ledgers). */
function newManifest(o: LedgerOpen): LedgerManifest {
  if (o.create === null)
    throw new AtomicBulkError(
      'NOT_FOUND',
      `There is no campaign ${o.name} in this state directory.`,
      { hint: 'List the campaigns with `atomic-bulk campaign list --state-dir …`.' },
    );
  return {
    version: 1,
    campaign: o.name,
    createdAt: o.now().toISOString(),
    check: o.secret.check(o.name),
    keyColumns: o.create.keyColumns,
    destination: o.create.destination,
    epoch: 0,
    forgotten: 0,
    segments: [],
    journals: [],
    openRuns: [],
    runs: [],
  };
}

/** A ledger's manifest as read: written under this secret, sealed, and of the right shape. */
function readManifest(o: LedgerOpen, sealer: Sealer, text: string): LedgerManifest {
  const check = o.secret.check(o.name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const plain = parsed as { check?: unknown } | null;
  if (
    plain !== null &&
    typeof plain === 'object' &&
    plain.check !== check &&
    typeof plain.check === 'string'
  )
    throw new AtomicBulkError(
      'CONFIG',
      `The ledger of campaign ${o.name} was written with another campaign secret.`,
      {
        hint: `Use the secret it was written with: ATOMIC_BULK_CAMPAIGN_SECRET, or the client credentials it was started with. Under another secret every key would look new and every user would get a second card.`,
      },
    );
  const opened = openSealed(sealer, 'campaign', parsed);
  if (opened === null)
    throw new AtomicBulkError(
      'STATE',
      `The ledger of campaign ${o.name} in ${o.store.where} fails its seal check: it was changed outside atomic-bulk.`,
      { hint: 'Restore it from a backup, or start a new campaign name.' },
    );
  return checkShape(opened, o.name);
}
