/**
 * The sandbox's card instances and its Cards API semantics (SPEC 6): cards are listed and
 * cancelled by any combination of flowInvocationId, flowInstanceId, cardTemplateId,
 * userId, status and lifecycleId, listed `limit` (default 100, at most 1,000) at a time
 * from `offset`, cancelled at most `limit` (default 500, at most 1,000) per request, and a
 * cancel that would touch more than one card needs `multiple=1`. A cancel with no filter
 * at all cancels every card in the environment, as Atomic's does; the store counts such
 * requests so tests can prove the tool never sends one.
 *
 * Cards are kept compactly (numbers for times, shared strings for templates and ids), so
 * a million of them fit in the sandbox's memory for the reconcile benchmark.
 */

import { CARD_QUERY_FIELDS, type CardQuery } from '../api/cards.js';

/** The filters Atomic documents for listing and cancelling cards (SPEC 6). */
export const CARD_FILTERS = CARD_QUERY_FIELDS;
export type CardFilter = CardQuery;

export const DEFAULT_LIST_LIMIT = 100;
export const DEFAULT_CANCEL_LIMIT = 500;
export const MAX_LIMIT = 1000;

interface Card {
  serial: number;
  flowInstance: number;
  templateId: string;
  templateName: string;
  flowInvocationId: string;
  userId: string;
  status: string;
  created: number;
  updated: number;
}

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

export class CardStore {
  private readonly cards: Card[] = [];
  private readonly byInvocation = new Map<string, number[]>();
  private readonly byTemplate = new Map<string, number[]>();
  private flowInstances = 0;
  /** Cancel requests that named no filter at all (each cancelled every card). */
  unscopedCancels = 0;
  cancelled = 0;

  get size(): number {
    return this.cards.length;
  }

  /** One card per user for an invocation of a flow (one flow instance per invocation). */
  create(
    flowInvocationId: string,
    userIds: string[],
    template: { id: string; name: string },
    now = Date.now(),
  ): void {
    const flowInstance = ++this.flowInstances;
    for (const userId of userIds) {
      const index = this.cards.length;
      this.cards.push({
        serial: index + 1,
        flowInstance,
        templateId: template.id,
        templateName: template.name,
        flowInvocationId,
        userId,
        status: 'active',
        created: now,
        updated: now,
      });
      push(this.byInvocation, flowInvocationId, index);
      push(this.byTemplate, template.id, index);
    }
  }

  /** Cards matching every filter, from `offset`, at most `limit`. */
  list(filter: CardFilter, limit: number, offset: number): CardView[] {
    const indexes = this.indexFor(filter);
    if (indexes !== null && CARD_FILTERS.filter((f) => filter[f] !== undefined).length === 1)
      return indexes.slice(offset, offset + limit).map((i) => view(this.cards[i] as Card));
    const out: CardView[] = [];
    let skipped = 0;
    for (const card of this.matching(filter)) {
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (out.length >= limit) break;
      out.push(view(card));
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
    }
    this.cancelled += targets.length;
    return targets.map(view);
  }

  /** Cards of one invocation (for tests). */
  ofInvocation(flowInvocationId: string): CardView[] {
    return (this.byInvocation.get(flowInvocationId) ?? []).map((i) => view(this.cards[i] as Card));
  }

  /** The indexed positions a filter narrows to, or null when it names no indexed field. */
  private indexFor(filter: CardFilter): number[] | null {
    if (filter.flowInvocationId !== undefined)
      return this.byInvocation.get(filter.flowInvocationId) ?? [];
    if (filter.cardTemplateId !== undefined)
      return this.byTemplate.get(filter.cardTemplateId) ?? [];
    return null;
  }

  private *matching(filter: CardFilter): Generator<Card> {
    const indexes = this.indexFor(filter);
    if (indexes === null) {
      for (const card of this.cards) if (matches(card, filter)) yield card;
      return;
    }
    for (const i of indexes) {
      const card = this.cards[i] as Card;
      if (matches(card, filter)) yield card;
    }
  }
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function matches(card: Card, f: CardFilter): boolean {
  return (
    (f.flowInvocationId === undefined || f.flowInvocationId === card.flowInvocationId) &&
    (f.flowInstanceId === undefined || f.flowInstanceId === `fi-${card.flowInstance}`) &&
    (f.cardTemplateId === undefined || f.cardTemplateId === card.templateId) &&
    (f.userId === undefined || f.userId === card.userId) &&
    (f.status === undefined || f.status === card.status) &&
    (f.lifecycleId === undefined || f.lifecycleId === `lc-${card.flowInstance}`)
  );
}

function view(card: Card): CardView {
  return {
    cardInstanceId: `ci-${card.serial}`,
    cardTemplateId: card.templateId,
    cardTemplateName: card.templateName,
    flowInstanceId: `fi-${card.flowInstance}`,
    flowInvocationId: card.flowInvocationId,
    lifecycleId: `lc-${card.flowInstance}`,
    status: card.status,
    userId: card.userId,
    eventSource: 'csv-task',
    created: new Date(card.created).toISOString(),
    updated: new Date(card.updated).toISOString(),
  };
}
