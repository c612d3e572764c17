import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CardStore } from './cards.js';
import { InvocationLedger, runsOf, StringFile, type SandboxInvocation } from './ledger.js';

const open: { ledger: InvocationLedger; cards: CardStore; dir: string }[] = [];
function ledger(storePayloads = true) {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  const l = new InvocationLedger(dir, storePayloads);
  const cards = new CardStore(dir, l);
  open.push({ ledger: l, cards, dir });
  return { ledger: l, cards };
}
afterEach(() => {
  for (const { ledger: l, cards, dir } of open.splice(0)) {
    cards.close();
    l.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function invocation(id: string, over: Partial<SandboxInvocation> = {}): SandboxInvocation {
  return {
    flowInvocationId: id,
    generatedId: false,
    flowId: 'flow-a',
    mode: 'live',
    taskId: 't1',
    line: 2,
    target: { atomic___id: `user-${id}` },
    variables: { amount: 5 },
    cardOptions: {},
    metadata: {},
    notificationDetail: {},
    ...over,
  };
}

describe('InvocationLedger', () => {
  it('creates once per flow and id; the same inputs are a duplicate, others a conflict', () => {
    const { ledger: l } = ledger();
    const none = () => ({ firstCard: 0, cards: 0, noCard: 'no-match' as const });
    expect(l.record(invocation('a'), none).outcome).toBe('created');
    expect(l.record(invocation('a'), none).outcome).toBe('duplicate');
    expect(l.record(invocation('a', { variables: { amount: 6 } }), none).outcome).toBe('conflict');
    // The same id in another flow is another invocation.
    expect(l.record(invocation('a', { flowId: 'flow-b' }), none).outcome).toBe('created');
    expect(l.record(invocation('a', { flowId: 'flow-b' }), none).outcome).toBe('duplicate');
    expect([l.created, l.duplicates, l.conflicts]).toEqual([2, 2, 1]);
    expect(l.ordinalsOf('a')).toEqual([0, 1]);
    expect(l.ordinalsOf('b')).toEqual([]);
    expect(l.noCardReason('a')).toBe('no-match');
    expect(Object.fromEntries(l.noCard)).toEqual({ 'no-match': 2 });
  });

  it('pages stored payloads, and stores none when asked not to', () => {
    const { ledger: l } = ledger();
    const none = () => ({ firstCard: 0, cards: 0, noCard: null });
    for (let i = 0; i < 2500; i++) l.record(invocation(`id-${i}`, { line: i + 2 }), none);
    const page = l.page(1000, 1000);
    expect(page).toHaveLength(1000);
    expect(page[0]?.flowInvocationId).toBe('id-1000');
    expect(page[0]?.line).toBe(1002);
    expect(l.page(2400, 1000)).toHaveLength(100);
    const bare = ledger(false).ledger;
    bare.record(invocation('x'), none);
    expect(bare.page(0, 10)).toEqual([]);
    expect(bare.storesPayloads).toBe(false);
  });

  it('keeps ids with any characters, and card views name them back', () => {
    const { ledger: l, cards } = ledger();
    const id = 'id,with "quotes"\nand é — 🙂';
    l.record(invocation(id), (ordinal) => ({
      firstCard: cards.create(ordinal, ['u1', 'u2'], { id: 'tpl', name: 'Template' }),
      cards: 2,
      noCard: null,
    }));
    const made = cards.ofInvocation(id);
    expect(made.map((c) => [c.flowInvocationId, c.userId, c.status])).toEqual([
      [id, 'u1', 'active'],
      [id, 'u2', 'active'],
    ]);
    expect(made[0]?.flowInstanceId).toBe(made[1]?.flowInstanceId);
  });
});

describe('reading in runs', () => {
  it('cuts numbers into runs in the order given', () => {
    expect(runsOf([4, 5, 6, 9, 3, 4])).toEqual([
      { from: 4, count: 3 },
      { from: 9, count: 1 },
      { from: 3, count: 2 },
    ]);
    expect(runsOf([])).toEqual([]);
  });

  it('reads several texts together, near or far apart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
    const strings = new StringFile(join(dir, 'texts'));
    try {
      const a = strings.put('é-first');
      const far = strings.put('x'.repeat(2 * 1024 * 1024));
      const b = strings.put('second');
      expect(strings.many([b, a])).toEqual(['second', 'é-first']);
      expect(strings.many([a, far, b]).map((t) => t.length)).toEqual([7, 2 * 1024 * 1024, 6]);
    } finally {
      strings.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cards per user', () => {
  it('counts each user’s cards per template and the users who got more than one', () => {
    const { ledger: l, cards } = ledger(false);
    const send = (id: string, users: string[], template = 'tpl') =>
      l.record(invocation(id), (ordinal) => ({
        firstCard: cards.create(ordinal, users, { id: template, name: 'T' }),
        cards: users.length,
        noCard: null,
      }));
    send('a', ['u1']);
    send('b', ['u2', 'u3']);
    send('c', ['u1']);
    send('d', ['u1'], 'other');
    expect(cards.cardsOfUser('u1')).toEqual([
      { cardTemplateId: 'tpl', cards: 2 },
      { cardTemplateId: 'other', cards: 1 },
    ]);
    expect(cards.cardsOfUser('u2')).toEqual([{ cardTemplateId: 'tpl', cards: 1 }]);
    expect(cards.cardsOfUser('nobody')).toEqual([]);
    expect(Object.fromEntries(cards.users)).toEqual({
      tpl: { users: 3, withMoreThanOneCard: 1 },
      other: { users: 1, withMoreThanOneCard: 0 },
    });
  });
});

describe('CardStore on disk', () => {
  function campaign(n: number) {
    const made = ledger(false);
    for (let i = 0; i < n; i++) {
      made.ledger.record(invocation(`id-${i}`), (ordinal) => ({
        firstCard: made.cards.create(ordinal, [`user-${i}`], {
          id: i % 2 === 0 ? 'even' : 'odd',
          name: 'T',
        }),
        cards: 1,
        noCard: null,
      }));
    }
    return made;
  }

  it('lists by template in creation order, pages by offset, and filters by any field', () => {
    const { cards } = campaign(5000);
    expect(cards.size).toBe(5000);
    const page = cards.list({ cardTemplateId: 'odd' }, 1000, 2000);
    expect(page).toHaveLength(500);
    expect(page[0]?.flowInvocationId).toBe('id-4001');
    expect(cards.list({ userId: 'user-4321' }, 10, 0).map((c) => c.flowInvocationId)).toEqual([
      'id-4321',
    ]);
    const one = cards.list({ flowInvocationId: 'id-77' }, 10, 0)[0];
    expect(cards.list({ flowInstanceId: one?.flowInstanceId ?? '' }, 10, 0)).toEqual([one]);
    expect(cards.list({ lifecycleId: one?.lifecycleId ?? '' }, 10, 0)).toEqual([one]);
    expect(cards.list({ flowInstanceId: 'fi-999999' }, 10, 0)).toEqual([]);
    expect(cards.list({ cardTemplateId: 'none' }, 10, 0)).toEqual([]);
  });

  it('cancels what matches, at most limit, once; needs multiple for more than one', () => {
    const { cards } = campaign(50);
    expect(cards.cancel({ cardTemplateId: 'even' }, 10, false)).toBe('needs-multiple');
    const first = cards.cancel({ cardTemplateId: 'even' }, 10, true);
    expect(first).not.toBe('needs-multiple');
    expect((first as unknown[]).length).toBe(10);
    expect((cards.cancel({ cardTemplateId: 'even' }, 100, true) as unknown[]).length).toBe(15);
    expect(cards.cancel({ cardTemplateId: 'even' }, 100, true)).toEqual([]);
    expect(cards.cancelled).toBe(25);
    expect(cards.list({ cardTemplateId: 'even', status: 'canceled' }, 100, 0)).toHaveLength(25);
    expect(cards.list({ cardTemplateId: 'odd', status: 'active' }, 100, 0)).toHaveLength(25);
    cards.cancel({}, 1000, true);
    expect(cards.unscopedCancels).toBe(1);
  });
});
