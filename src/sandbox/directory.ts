/**
 * The sandbox's customer directory: the users a row's `target.attributes.*` are matched
 * against, as Atomic matches them (SPEC 6): every attribute of the row must match (AND);
 * `atomic___id` is the user id. Some users are test users, the only ones a test-mode send
 * reaches.
 *
 * A seeded directory ships with the sandbox (see SEEDED_USERS); a JSON file can replace
 * it. With `implicitIds` (the default) an `atomic___id` the directory does not know is a
 * user of its own, with no other attributes and not a test user, so campaigns keyed by
 * customer id work without listing every customer first.
 */
import { readFile } from 'node:fs/promises';

export interface DirectoryUser {
  userId: string;
  attributes: Record<string, string>;
  testUser: boolean;
}

/** Atomic skips a row whose targets match more than this many users. */
export const MAX_MATCHES = 10;

export type MatchResult =
  | { kind: 'users'; userIds: string[] }
  | { kind: 'no-match' }
  | { kind: 'too-many'; atLeast: number }
  | { kind: 'no-test-user'; users: number };

const REGIONS = ['north', 'south', 'east', 'west'];

/**
 * 60 customers (`customer-01` … `customer-60`, email `customer-NN@example.test`, region
 * north/south/east/west in turn — so a region matches 15 users, more than 10), and three
 * test users (`tester-1` … `tester-3`, team `qa`, region `north`).
 */
export function seededUsers(): DirectoryUser[] {
  const users: DirectoryUser[] = [];
  for (let n = 1; n <= 60; n++) {
    const id = `customer-${String(n).padStart(2, '0')}`;
    users.push({
      userId: id,
      attributes: {
        email: `${id}@example.test`,
        region: REGIONS[(n - 1) % REGIONS.length] as string,
        plan: n % 3 === 0 ? 'premium' : 'standard',
      },
      testUser: false,
    });
  }
  for (let n = 1; n <= 3; n++) {
    const id = `tester-${n}`;
    users.push({
      userId: id,
      attributes: { email: `${id}@example.test`, team: 'qa', region: 'north' },
      testUser: true,
    });
  }
  return users;
}

/** Reads a directory file: a JSON list of users, or `{ "users": [...] }`. */
export async function loadDirectory(path: string): Promise<DirectoryUser[]> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { users?: unknown }).users;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a list of users`);
  return list.map((u, i) => {
    const o = u as Record<string, unknown>;
    if (typeof o.userId !== 'string' || o.userId === '')
      throw new Error(`${path}: user ${i + 1} has no userId`);
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries((o.attributes ?? {}) as Record<string, unknown>))
      attributes[k] = String(v);
    return { userId: o.userId, attributes, testUser: o.testUser === true };
  });
}

export class CustomerDirectory {
  private readonly byId = new Map<string, DirectoryUser>();
  /** attribute → value → user ids. */
  private readonly index = new Map<string, Map<string, string[]>>();

  constructor(
    users: DirectoryUser[],
    private readonly implicitIds = true,
  ) {
    for (const user of users) {
      this.byId.set(user.userId, user);
      for (const [name, value] of Object.entries(user.attributes)) {
        let values = this.index.get(name);
        if (values === undefined) this.index.set(name, (values = new Map<string, string[]>()));
        const ids = values.get(value);
        if (ids === undefined) values.set(value, [user.userId]);
        else ids.push(user.userId);
      }
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The users a row's targets reach in this mode, or why none. */
  match(target: Record<string, string>, mode: 'live' | 'test'): MatchResult {
    const entries = Object.entries(target);
    let candidates: string[] | null = null;
    const id = target.atomic___id;
    if (id !== undefined) {
      if (this.byId.has(id)) candidates = [id];
      else if (this.implicitIds && entries.length === 1) {
        candidates = [id];
        if (mode === 'test') return { kind: 'no-test-user', users: 1 };
        return { kind: 'users', userIds: candidates };
      } else candidates = [];
    }
    for (const [name, value] of entries) {
      if (name === 'atomic___id') continue;
      const ids = this.index.get(name)?.get(value) ?? [];
      candidates = candidates === null ? ids : candidates.filter((c) => ids.includes(c));
      if (candidates.length === 0) break;
    }
    const matched = candidates ?? [];
    if (matched.length === 0) return { kind: 'no-match' };
    if (matched.length > MAX_MATCHES) return { kind: 'too-many', atLeast: matched.length };
    const reached =
      mode === 'test' ? matched.filter((u) => this.byId.get(u)?.testUser === true) : matched;
    if (reached.length === 0) return { kind: 'no-test-user', users: matched.length };
    return { kind: 'users', userIds: reached };
  }
}
