/**
 * The sandbox's invocations, kept on disk (disk-table.ts): one fixed-size record per
 * invocation, the ids in a string file, the payloads (when stored) as JSON lines, and an
 * index from each id's digest to its latest invocation. `flowInvocationId` is the
 * idempotency key per flow (SPEC 6): the same id with the same inputs creates nothing new,
 * with different inputs it is a conflict. Memory holds counters and write buffers only.
 */
import { hash as oneShotHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AppendFile,
  DiskIndex,
  DIGEST_BYTES,
  memoryBudget,
  RecordFile,
  type MemoryBudget,
} from './disk-table.js';

export interface SandboxInvocation {
  flowInvocationId: string;
  /** True when the row had no id and the sandbox made one up. */
  generatedId: boolean;
  flowId: string;
  mode: 'live' | 'test';
  taskId: string;
  /** 1-based line of the row in the uploaded file. */
  line: number;
  target: Record<string, string>;
  variables: Record<string, string | number | boolean>;
  cardOptions: Record<string, string>;
  metadata: Record<string, string>;
  notificationDetail: Record<string, string>;
}

/** Why an invocation created no card (SPEC 6). */
export type NoCardReason = 'no-match' | 'too-many-matches' | 'no-test-user' | 'card-error';
const NO_CARD: (NoCardReason | null)[] = [
  null,
  'no-match',
  'too-many-matches',
  'no-test-user',
  'card-error',
];

/*
 * An invocation's record: inputs hash (8), id position (6) and length (2), previous
 * invocation with the same id + 1 (4), flow (2), mode (1), no-card reason (1), first card
 * (4), cards (2), payload position (6) and length (4). 40 bytes.
 */
const RECORD_BYTES = 40;
const AT = {
  hash: 0,
  idAt: 8,
  idLength: 14,
  previous: 16,
  flow: 20,
  mode: 22,
  noCard: 23,
  firstCard: 24,
  cards: 28,
  payloadAt: 30,
  payloadLength: 36,
} as const;

/** The longest id or user id kept (longer ones are refused by the processor). */
export const MAX_ID_BYTES = 65_535;

export type RecordOutcome = 'created' | 'duplicate' | 'conflict';

/** What a new invocation made: its cards (numbered from `firstCard`), or why none. */
export interface Delivered {
  firstCard: number;
  cards: number;
  noCard: NoCardReason | null;
}

/** Text kept on disk and read back by position (ids, user ids). */
export class StringFile {
  private readonly file: AppendFile;

  constructor(path: string) {
    this.file = new AppendFile(path);
  }

  /** Position and length of the stored text. */
  put(text: string): { at: number; length: number } {
    const bytes = Buffer.from(text, 'utf8');
    return { at: this.file.append(bytes), length: bytes.length };
  }

  get(at: number, length: number): string {
    return this.file.read(at, length).toString('utf8');
  }

  /** Several texts: one read of the span holding them when it is at most 1 MiB, else one each. */
  many(places: readonly { at: number; length: number }[]): string[] {
    if (places.length === 0) return [];
    const from = Math.min(...places.map((p) => p.at));
    const to = Math.max(...places.map((p) => p.at + p.length));
    if (to - from > 1024 * 1024) return places.map((p) => this.get(p.at, p.length));
    const span = this.file.read(from, to - from);
    return places.map((p) => span.toString('utf8', p.at - from, p.at - from + p.length));
  }

  close(): void {
    this.file.close();
  }
}

export class InvocationLedger {
  readonly strings: StringFile;
  private readonly records: RecordFile;
  private readonly payloads: AppendFile | null;
  private readonly byId: DiskIndex;
  private readonly flowIds: string[] = [];
  created = 0;
  duplicates = 0;
  conflicts = 0;
  readonly noCard = new Map<NoCardReason, number>();

  constructor(dir: string, storePayloads: boolean, budget: MemoryBudget = memoryBudget()) {
    this.strings = new StringFile(join(dir, 'strings'));
    this.records = new RecordFile(join(dir, 'invocations'), RECORD_BYTES);
    this.payloads = storePayloads ? new AppendFile(join(dir, 'payloads.jsonl')) : null;
    this.byId = new DiskIndex(dir, budget, 'ids');
  }

  get count(): number {
    return this.records.count;
  }

  /**
   * Records one row: a new invocation (its cards made by `deliver`, given the invocation's
   * number), a duplicate or a conflict. One index lookup, one index write, and appends.
   */
  record(
    invocation: SandboxInvocation,
    deliver: (ordinal: number) => Delivered,
  ): { outcome: RecordOutcome; cards: number } {
    const digest = idDigest(invocation.flowInvocationId);
    const hash = inputsHash(invocation);
    const flow = this.flowIndex(invocation.flowId);
    let result: { outcome: RecordOutcome; cards: number } = { outcome: 'created', cards: 0 };
    this.byId.update(digest, (head) => {
      const earlier = this.sameId(head, flow, invocation.flowInvocationId);
      if (earlier !== null) {
        const same = earlier.compare(hash, 0, 8, AT.hash, AT.hash + 8) === 0;
        if (same) this.duplicates++;
        else this.conflicts++;
        result = { outcome: same ? 'duplicate' : 'conflict', cards: 0 };
        return null;
      }
      const ordinal = this.records.count;
      const made = deliver(ordinal);
      this.records.add(this.newRecord(invocation, { hash, flow, head, made }));
      if (made.noCard !== null)
        this.noCard.set(made.noCard, (this.noCard.get(made.noCard) ?? 0) + 1);
      this.created++;
      result = { outcome: 'created', cards: made.cards };
      return ordinal;
    });
    return result;
  }

  /** The record of this id's invocation of this flow, walking back from `head`. */
  private sameId(head: number, flow: number, id: string): Buffer | null {
    for (let at = head; at >= 0;) {
      const r = this.records.get(at);
      if (r.readUInt16LE(AT.flow) === flow && this.idOf(at, r) === id) return r;
      at = r.readUInt32LE(AT.previous) - 1;
    }
    return null;
  }

  private newRecord(
    invocation: SandboxInvocation,
    o: { hash: Buffer; flow: number; head: number; made: Delivered },
  ): Buffer {
    const r = Buffer.alloc(RECORD_BYTES);
    o.hash.copy(r, AT.hash, 0, 8);
    const id = this.strings.put(invocation.flowInvocationId);
    r.writeUIntLE(id.at, AT.idAt, 6);
    r.writeUInt16LE(id.length, AT.idLength);
    r.writeUInt32LE(o.head + 1, AT.previous);
    r.writeUInt16LE(o.flow, AT.flow);
    r.writeUInt8(invocation.mode === 'test' ? 1 : 0, AT.mode);
    r.writeUInt8(NO_CARD.indexOf(o.made.noCard), AT.noCard);
    r.writeUInt32LE(o.made.firstCard, AT.firstCard);
    r.writeUInt16LE(o.made.cards, AT.cards);
    if (this.payloads !== null) {
      const json = Buffer.from(`${JSON.stringify(invocation)}\n`, 'utf8');
      r.writeUIntLE(this.payloads.append(json), AT.payloadAt, 6);
      r.writeUInt32LE(json.length, AT.payloadLength);
    }
    return r;
  }

  /** Invocations with this id (one per flow that received it), oldest first. */
  ordinalsOf(flowInvocationId: string): number[] {
    const out: number[] = [];
    for (let at = this.byId.get(idDigest(flowInvocationId)); at >= 0;) {
      const r = this.records.get(at);
      if (this.idOf(at, r) === flowInvocationId) out.unshift(at);
      at = r.readUInt32LE(AT.previous) - 1;
    }
    return out;
  }

  /** The ids of several invocations, their records read in runs and their texts together. */
  idsOf(ordinals: readonly number[]): string[] {
    const places: { at: number; length: number }[] = [];
    for (const { from, count } of runsOf(ordinals)) {
      const block = this.records.range(from, count);
      for (let i = 0; i < count; i++)
        places.push({
          at: block.readUIntLE(i * RECORD_BYTES + AT.idAt, 6),
          length: block.readUInt16LE(i * RECORD_BYTES + AT.idLength),
        });
    }
    return this.strings.many(places);
  }

  idOf(ordinal: number, record = this.records.get(ordinal)): string {
    return this.strings.get(record.readUIntLE(AT.idAt, 6), record.readUInt16LE(AT.idLength));
  }

  cardsOf(ordinal: number): { first: number; count: number } {
    const r = this.records.get(ordinal);
    return { first: r.readUInt32LE(AT.firstCard), count: r.readUInt16LE(AT.cards) };
  }

  noCardReason(flowInvocationId: string): NoCardReason | null {
    const latest = this.ordinalsOf(flowInvocationId).at(-1);
    if (latest === undefined) return null;
    return NO_CARD[this.records.get(latest).readUInt8(AT.noCard)] ?? null;
  }

  /** Stored payloads from `offset`, at most `limit` (none when payloads are not stored). */
  page(offset: number, limit: number): SandboxInvocation[] {
    const out: SandboxInvocation[] = [];
    if (this.payloads === null) return out;
    for (let i = offset; i < Math.min(this.count, offset + limit); i++) {
      const r = this.records.get(i);
      const length = r.readUInt32LE(AT.payloadLength);
      const json = this.payloads.read(r.readUIntLE(AT.payloadAt, 6), length).toString('utf8');
      out.push(JSON.parse(json) as SandboxInvocation);
    }
    return out;
  }

  get storesPayloads(): boolean {
    return this.payloads !== null;
  }

  close(): void {
    this.strings.close();
    this.records.close();
    this.payloads?.close();
    this.byId.close();
  }

  private flowIndex(flowId: string): number {
    let i = this.flowIds.indexOf(flowId);
    if (i < 0) i = this.flowIds.push(flowId) - 1;
    return i;
  }
}

/** Numbers cut into runs of consecutive ones, in the order given: [4,5,6,9] → (4,3),(9,1). */
export function runsOf(numbers: readonly number[]): { from: number; count: number }[] {
  const runs: { from: number; count: number }[] = [];
  for (const n of numbers) {
    const last = runs.at(-1);
    if (last !== undefined && n === last.from + last.count) last.count++;
    else runs.push({ from: n, count: 1 });
  }
  return runs;
}

/** The 16-byte digest a text is indexed under. */
export function digestOf(text: string): Buffer {
  return oneShotHash('sha256', text, 'buffer').subarray(0, DIGEST_BYTES);
}

function idDigest(id: string): Buffer {
  return oneShotHash('sha256', id, 'buffer').subarray(0, DIGEST_BYTES);
}

function inputsHash(i: SandboxInvocation): Buffer {
  const inputs = [i.mode, i.target, i.variables, i.cardOptions, i.metadata, i.notificationDetail];
  return oneShotHash('sha256', JSON.stringify(inputs), 'buffer');
}
