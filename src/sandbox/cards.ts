/**
 * The sandbox's card instances and its Cards API semantics (SPEC 6): cards are listed and
 * cancelled by any combination of flowInvocationId, flowInstanceId, cardTemplateId,
 * userId, status and lifecycleId, listed `limit` (default 100, at most 1,000) at a time
 * from `offset`, cancelled at most `limit` (default 500, at most 1,000) per request, and a
 * cancel that would touch more than one card needs `multiple=1`. A cancel with no filter
 * at all cancels every card in the environment, as Atomic's does; the store counts such
 * requests so tests can prove the tool never sends one.
 *
 * Cards are kept on disk (disk-table.ts): a 32-byte record per card, user ids in the
 * ledger's string file, and per template the list of its cards, so a campaign of millions
 * costs the sandbox disk, not memory. A card's flow instance and lifecycle are its
 * invocation's (one flow instance per invocation).
 */
import { join } from 'node:path';
import { CARD_QUERY_FIELDS, type CardQuery } from '../api/cards.js';
import { DiskIndex, memoryBudget, RecordFile, type MemoryBudget } from './disk-table.js';
import { digestOf, runsOf, type InvocationLedger } from './ledger.js';

/** The filters Atomic documents for listing and cancelling cards (SPEC 6). */
export const CARD_FILTERS = CARD_QUERY_FIELDS;
export type CardFilter = CardQuery;

export const DEFAULT_LIST_LIMIT = 100;
export const DEFAULT_CANCEL_LIMIT = 500;
export const MAX_LIMIT = 1000;

/** A card as the API shows it. */
export interface CardView {
  cardInstanceId: string;
  cardTemplateId: string;
  cardTemplateName: string;
  flowInstanceId: string;
  flowInvocationId: string;
  lifecycleId: string;
  status: string;
  userId: string;
  eventSource: string;
  created: string;
  updated: string;
}

const STATUSES = ['active', 'canceled'] as const;
/* A card: invocation (4), user id position (6) and length (2), template (2), status (1),
 * created and updated (8 each, milliseconds). */
const CARD_BYTES = 32;
/** Card records read at once when scanning. */
const SCAN_CARDS = 2048;

interface Card {
  serial: number;
  invocation: number;
  userAt: number;
  userLength: number;
  template: number;
  status: (typeof STATUSES)[number];
  created: number;
  updated: number;
}

function decode(serial: number, b: Buffer, at = 0): Card {
  return {
    serial,
    invocation: b.readUInt32LE(at),
    userAt: b.readUIntLE(at + 4, 6),
    userLength: b.readUInt16LE(at + 10),
    template: b.readUInt16LE(at + 12),
    status: STATUSES[b.readUInt8(at + 14)] ?? 'active',
    created: b.readDoubleLE(at + 16),
    updated: b.readDoubleLE(at + 24),
  };
}

function encode(card: Card): Buffer {
  const b = Buffer.alloc(CARD_BYTES);
  b.writeUInt32LE(card.invocation, 0);
  b.writeUIntLE(card.userAt, 4, 6);
  b.writeUInt16LE(card.userLength, 10);
  b.writeUInt16LE(card.template, 12);
  b.writeUInt8(STATUSES.indexOf(card.status), 14);
  b.writeDoubleLE(card.created, 16);
  b.writeDoubleLE(card.updated, 24);
  return b;
}

interface Template {
  id: string;
  name: string;
  /** Its cards' numbers, in the order they were made (4 bytes each). */
  cards: RecordFile;
}

/** Users a template's cards went to: how many, and how many got more than one. */
export interface TemplateUsers {
  users: number;
  withMoreThanOneCard: number;
}

export class CardStore {
  private readonly records: RecordFile;
  private readonly templates: Template[] = [];
  /** Cards made per (template, user), so a rehearsal shows nobody got two. */
  private readonly perUser: DiskIndex;
  readonly users = new Map<string, TemplateUsers>();
  /** Cancel requests that named no filter at all (each cancelled every card). */
  unscopedCancels = 0;
  cancelled = 0;

  constructor(
    private readonly dir: string,
    private readonly ledger: InvocationLedger,
    budget: MemoryBudget = memoryBudget(),
  ) {
    this.records = new RecordFile(join(dir, 'cards'), CARD_BYTES);
    this.perUser = new DiskIndex(dir, budget, 'users');
  }

  get size(): number {
    return this.records.count;
  }

  /** One card per user for an invocation (its number in the ledger); returns the first card's number. */
  create(
    invocation: number,
    userIds: string[],
    template: { id: string; name: string },
    now = Date.now(),
  ): number {
    const t = this.template(template);
    const first = this.records.count;
    for (const userId of userIds) {
      const user = this.ledger.strings.put(userId);
      const serial = this.records.add(
        encode({
          serial: 0,
          invocation,
          userAt: user.at,
          userLength: user.length,
          template: t,
          status: 'active',
          created: now,
          updated: now,
        }),
      );
      const posting = Buffer.allocUnsafe(4);
      posting.writeUInt32LE(serial, 0);
      (this.templates[t] as Template).cards.add(posting);
      this.countUser(template.id, userId);
    }
    return first;
  }

  private countUser(templateId: string, userId: string): void {
    let counts = this.users.get(templateId);
    if (counts === undefined)
      this.users.set(templateId, (counts = { users: 0, withMoreThanOneCard: 0 }));
    const tally = counts;
    this.perUser.update(digestOf(`${templateId}\u0000${userId}`), (old) => {
      const cards = Math.max(old, 0) + 1;
      if (cards === 1) tally.users++;
      if (cards === 2) tally.withMoreThanOneCard++;
      return cards;
    });
  }

  /** Cards made for a user, per template that made any. */
  cardsOfUser(userId: string): { cardTemplateId: string; cards: number }[] {
    const out: { cardTemplateId: string; cards: number }[] = [];
    for (const t of this.templates) {
      const cards = this.perUser.get(digestOf(`${t.id}\u0000${userId}`));
      if (cards > 0) out.push({ cardTemplateId: t.id, cards });
    }
    return out;
  }

  /** Cards matching every filter, from `offset`, at most `limit`. */
  list(filter: CardFilter, limit: number, offset: number): CardView[] {
    const only = CARD_FILTERS.filter((f) => filter[f] !== undefined);
    if (only.length === 1 && only[0] === 'cardTemplateId') {
      const t = this.templates.find((x) => x.id === filter.cardTemplateId);
      if (t === undefined || offset >= t.cards.count) return [];
      const n = Math.min(limit, t.cards.count - offset);
      const postings = t.cards.range(offset, n);
      const serials: number[] = [];
      for (let i = 0; i < n; i++) serials.push(postings.readUInt32LE(i * 4));
      return this.page(serials);
    }
    const out: CardView[] = [];
    let skipped = 0;
    for (const card of this.matching(filter)) {
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (out.length >= limit) break;
      out.push(this.view(card));
    }
    return out;
  }

  /**
   * Cancels up to `limit` matching cards that are not cancelled already; returns them, or
   * 'needs-multiple' when more than one would be cancelled without `multiple`.
   */
  cancel(filter: CardFilter, limit: number, multiple: boolean): CardView[] | 'needs-multiple' {
    if (CARD_FILTERS.every((f) => filter[f] === undefined)) this.unscopedCancels++;
    const targets: Card[] = [];
    for (const card of this.matching(filter)) {
      if (card.status === 'canceled') continue;
      targets.push(card);
      if (targets.length >= limit || (!multiple && targets.length > 1)) break;
    }
    if (!multiple && targets.length > 1) return 'needs-multiple';
    const now = Date.now();
    for (const card of targets) {
      card.status = 'canceled';
      card.updated = now;
      this.records.set(card.serial, encode(card));
    }
    this.cancelled += targets.length;
    return targets.map((c) => this.view(c));
  }

  /** Cards of one invocation id (for tests). */
  ofInvocation(flowInvocationId: string): CardView[] {
    return this.list({ flowInvocationId }, Number.MAX_SAFE_INTEGER, 0);
  }

  close(): void {
    this.records.close();
    this.perUser.close();
    for (const t of this.templates) t.cards.close();
  }

  private template(template: { id: string; name: string }): number {
    const i = this.templates.findIndex((t) => t.id === template.id);
    if (i >= 0) return i;
    const n = this.templates.length;
    this.templates.push({
      ...template,
      cards: new RecordFile(join(this.dir, `template-${n}`), 4),
    });
    return n;
  }

  private card(serial: number): Card {
    return decode(serial, this.records.get(serial));
  }

  /**
   * Views of many cards at once, as a page of a template is: card records, invocation
   * records and texts each read in a few ranges (cards of one template are mostly
   * consecutive) rather than four reads a card.
   */
  private page(serials: readonly number[]): CardView[] {
    const cards: Card[] = [];
    for (const { from, count } of runsOf(serials)) {
      const block = this.records.range(from, count);
      for (let i = 0; i < count; i++) cards.push(decode(from + i, block, i * CARD_BYTES));
    }
    const ids = this.ledger.idsOf(cards.map((c) => c.invocation));
    const users = this.ledger.strings.many(
      cards.map((c) => ({ at: c.userAt, length: c.userLength })),
    );
    return cards.map((c, i) => this.viewWith(c, ids[i] as string, users[i] as string));
  }

  /** The card numbers a filter narrows to without a scan, or null when it cannot. */
  private narrowed(filter: CardFilter): Iterable<number> | null {
    const invocations =
      filter.flowInvocationId !== undefined
        ? this.ledger.ordinalsOf(filter.flowInvocationId)
        : filter.flowInstanceId !== undefined
          ? instance(filter.flowInstanceId, 'fi-', this.ledger.count)
          : filter.lifecycleId !== undefined
            ? instance(filter.lifecycleId, 'lc-', this.ledger.count)
            : null;
    if (invocations === null) return null;
    const serials: number[] = [];
    for (const ordinal of invocations) {
      const { first, count } = this.ledger.cardsOf(ordinal);
      for (let i = 0; i < count; i++) serials.push(first + i);
    }
    return serials;
  }

  private *matching(filter: CardFilter): Generator<Card> {
    const narrowed = this.narrowed(filter);
    if (narrowed !== null) {
      for (const serial of narrowed) {
        const card = this.card(serial);
        if (this.matches(card, filter)) yield card;
      }
      return;
    }
    const t =
      filter.cardTemplateId === undefined
        ? null
        : this.templates.find((x) => x.id === filter.cardTemplateId);
    if (t === undefined) return;
    const total = t === null ? this.records.count : t.cards.count;
    for (let from = 0; from < total; from += SCAN_CARDS) {
      const n = Math.min(SCAN_CARDS, total - from);
      if (t === null) {
        const chunk = this.records.range(from, n);
        for (let i = 0; i < n; i++) {
          const card = decode(from + i, chunk, i * CARD_BYTES);
          if (this.matches(card, filter)) yield card;
        }
      } else {
        const postings = t.cards.range(from, n);
        for (let i = 0; i < n; i++) {
          const card = this.card(postings.readUInt32LE(i * 4));
          if (this.matches(card, filter)) yield card;
        }
      }
    }
  }

  private matches(card: Card, f: CardFilter): boolean {
    const template = this.templates[card.template] as Template;
    return (
      (f.flowInstanceId === undefined || f.flowInstanceId === `fi-${card.invocation + 1}`) &&
      (f.lifecycleId === undefined || f.lifecycleId === `lc-${card.invocation + 1}`) &&
      (f.cardTemplateId === undefined || f.cardTemplateId === template.id) &&
      (f.status === undefined || f.status === card.status) &&
      (f.userId === undefined || f.userId === this.userOf(card)) &&
      (f.flowInvocationId === undefined || f.flowInvocationId === this.ledger.idOf(card.invocation))
    );
  }

  private userOf(card: Card): string {
    return this.ledger.strings.get(card.userAt, card.userLength);
  }

  private view(card: Card): CardView {
    return this.viewWith(card, this.ledger.idOf(card.invocation), this.userOf(card));
  }

  private viewWith(card: Card, flowInvocationId: string, userId: string): CardView {
    const template = this.templates[card.template] as Template;
    return {
      cardInstanceId: `ci-${card.serial + 1}`,
      cardTemplateId: template.id,
      cardTemplateName: template.name,
      flowInstanceId: `fi-${card.invocation + 1}`,
      flowInvocationId,
      lifecycleId: `lc-${card.invocation + 1}`,
      status: card.status,
      userId,
      eventSource: 'csv-task',
      created: new Date(card.created).toISOString(),
      updated: new Date(card.updated).toISOString(),
    };
  }
}

/** The invocation a `fi-N` or `lc-N` names, as a list of at most one. */
function instance(value: string, prefix: string, invocations: number): number[] {
  const n = value.startsWith(prefix) ? Number(value.slice(prefix.length)) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= invocations ? [n - 1] : [];
}
