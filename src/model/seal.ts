/**
 * Seals on what the tool writes and later reads back to act on: run manifests (which say
 * what was sent), the digests of id files, and report.json (which says which
 * invocations.csv belongs to the run, by digest). A seal is an HMAC-SHA-256 keyed from the
 * Atomic client credentials, so whoever can write the state prefix or a report folder but
 * does not hold the client secret cannot make a run look sent, or put another campaign's
 * ids into the scope of `cancel` (docs/decisions.md, "What it reads back, it verifies").
 * Whoever holds the client secret can call Atomic directly anyway.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a seal covers, so a seal made for one kind of file never verifies another. */
export type SealLabel = 'manifest' | 'report' | 'campaign';

export class Sealer {
  private constructor(private readonly key: Buffer) {}

  /** The sealing key of one set of client credentials (a key derived for this use only). */
  static fromCredentials(clientId: string, clientSecret: string): Sealer {
    const key = createHmac('sha256', clientSecret)
      .update(`atomic-bulk seal v1\u0000${clientId}`)
      .digest();
    return new Sealer(key);
  }

  /** A key for another use, derived from this one (the campaign secret's default). */
  derive(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(`derive\u0000${purpose}`).digest();
  }

  /** A sealer over a key derived elsewhere for this use only (a campaign's ledger). */
  static fromKey(key: Buffer): Sealer {
    return new Sealer(key);
  }

  /** The seal of `text`, hex. */
  seal(label: SealLabel, text: string): string {
    return createHmac('sha256', this.key).update(`${label}\u0000`).update(text).digest('hex');
  }

  /** True when `seal` was made by `seal(label, text)` with the same credentials. */
  verify(label: SealLabel, text: string, seal: unknown): boolean {
    if (typeof seal !== 'string' || !/^[0-9a-f]{64}$/.test(seal)) return false;
    return timingSafeEqual(Buffer.from(this.seal(label, text), 'hex'), Buffer.from(seal, 'hex'));
  }
}

/**
 * Writes `value` as indented JSON with a `seal` key last. The seal covers the same
 * object's JSON without it, which `openSealed` rebuilds from the parsed text: JSON.parse
 * keeps key order, and none of these files has integer-like keys.
 */
export function sealJson(sealer: Sealer, label: SealLabel, value: object): string {
  const plain = { ...value } as Record<string, unknown>;
  delete plain.seal;
  const seal = sealer.seal(label, JSON.stringify(plain, null, 2));
  return `${JSON.stringify({ ...plain, seal }, null, 2)}\n`;
}

/** The parsed object when its seal verifies; `null` when it is unsealed or sealed otherwise. */
export function openSealed(
  sealer: Sealer,
  label: SealLabel,
  parsed: unknown,
): Record<string, unknown> | null {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const { seal, ...plain } = parsed as Record<string, unknown>;
  return sealer.verify(label, JSON.stringify(plain, null, 2), seal) ? plain : null;
}
