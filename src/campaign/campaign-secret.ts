/**
 * The secret a campaign's ledger is keyed with. The ledger never holds a key value (a user
 * id, an email): it holds a 16-byte keyed digest of it, so whoever can read the state
 * prefix but does not hold this secret cannot test a guess against it. The secret is
 * `ATOMIC_BULK_CAMPAIGN_SECRET` when set (kept beside the client secret, never in the state
 * prefix), otherwise one derived from the Atomic client credentials. Every key the
 * campaign uses is derived from it for one purpose only: the key digests, the
 * flowInvocationIds, the seal on the ledger's manifest, and a check value that tells a
 * ledger written with another secret from a corrupt one.
 */
import { createCipheriv, createHmac, type Cipher } from 'node:crypto';
import { Sealer } from '../model/seal.js';
import { ID_LENGTH } from '../model/row-layout.js';
import { writeUuid } from '../model/uuid.js';

export const CAMPAIGN_SECRET_ENV = 'ATOMIC_BULK_CAMPAIGN_SECRET';
/** Bytes of a key digest in the ledger. */
export const DIGEST_BYTES = 16;

export class CampaignSecret {
  private constructor(private readonly base: Buffer) {}

  /** From a secret of the user's (at least 16 characters). */
  static fromText(secret: string): CampaignSecret {
    return new CampaignSecret(
      createHmac('sha256', secret).update('atomic-bulk campaign secret v1').digest(),
    );
  }

  /** From the Atomic client credentials, through their sealer (model/seal.ts). */
  static fromCredentials(credentials: Sealer): CampaignSecret {
    return new CampaignSecret(credentials.derive('atomic-bulk campaign secret v1'));
  }

  private derive(purpose: string, ...parts: string[]): Buffer {
    return createHmac('sha256', this.base)
      .update([purpose, ...parts].join('\u0000'))
      .digest();
  }

  /** Hashes key values for the named campaign. */
  hasher(campaign: string): KeyHasher {
    return new KeyHasher(this.derive('key', campaign));
  }

  /** Seals the campaign's manifest. */
  sealer(campaign: string): Sealer {
    return Sealer.fromKey(this.derive('seal', campaign));
  }

  /** Recorded in the manifest: tells "another secret" from "tampered". */
  check(campaign: string): string {
    return this.derive('check', campaign).toString('hex').slice(0, 32);
  }

  /** The flowInvocationId source of the campaign for one destination. */
  ids(campaign: string, flowConfigId: string, mode: string): CampaignIds {
    return new CampaignIds(this.derive('ids', campaign, flowConfigId, mode).subarray(0, 16));
  }
}

/** Keyed digests of key values: HMAC-SHA-256, the first 16 bytes. */
export class KeyHasher {
  private readonly len = Buffer.alloc(4);
  constructor(private readonly key: Buffer) {}

  /** Writes the digest of the values (each length-prefixed, so ("ab","c") ≠ ("a","bc")) at out[at]. */
  digest(values: readonly Uint8Array[], out: Buffer, at: number): void {
    const h = createHmac('sha256', this.key);
    for (const v of values) {
      this.len.writeUInt32BE(v.length, 0);
      h.update(this.len).update(v);
    }
    h.digest().copy(out, at, 0, DIGEST_BYTES);
  }

  /** The digest of text values (for `campaign forget --key`). */
  digestText(values: readonly string[]): Buffer {
    const out = Buffer.alloc(DIGEST_BYTES);
    this.digest(
      values.map((v) => Buffer.from(v, 'utf8')),
      out,
      0,
    );
    return out;
  }
}

/**
 * flowInvocationIds within a campaign: AES-128 over (key digest, epoch, occurrence), so
 * a row retried after a crash gets the id Atomic already has (and is absorbed), and a
 * row meant to be sent again (after --once-per, or after `forget`) gets a new one. The
 * caller sets each record's plaintext with `set` before the splitter asks for the batch.
 */
export class CampaignIds {
  private readonly cipher: Cipher;
  private plain = Buffer.alloc(16 * 4096);
  private raw = Buffer.alloc(0);

  constructor(key: Buffer) {
    this.cipher = createCipheriv('aes-128-ecb', key, null);
    this.cipher.setAutoPadding(false);
  }

  /** Room for `count` records of the next batch. */
  reserve(count: number): void {
    if (this.plain.length < count * 16) this.plain = Buffer.alloc(count * 32);
  }

  /** Record k of the batch: its key digest, epoch and occurrence. */
  set(k: number, digest: Buffer, at: number, epoch: number, occurrence: number): void {
    const o = k * 16;
    digest.copy(this.plain, o, at, at + 12);
    this.plain.writeUInt16BE(epoch, o + 12);
    this.plain.writeUInt16BE(occurrence, o + 14);
  }

  prepare(_recordNos: ArrayLike<number>, count: number): void {
    this.raw = this.cipher.update(this.plain.subarray(0, count * 16));
  }

  write(k: number, out: Buffer, at: number): void {
    writeUuid(this.raw, k, out, at);
  }

  /** One id as text (tests). */
  idFor(digest: Buffer, epoch: number, occurrence: number): string {
    this.set(0, digest, 0, epoch, occurrence);
    this.prepare([], 1);
    const out = Buffer.alloc(ID_LENGTH);
    this.write(0, out, 0);
    return out.toString('latin1');
  }
}
