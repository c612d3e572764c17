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
import { murmur128 } from '../model/murmur.js';
import { copyRecordBytes } from '../files/sorted-runs.js';
import { FIELD_ESCAPED, unescapeQuotes, type RecordBatch } from '../model/record-batch.js';
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

/**
 * Keyed digests of key values, a batch at a time: MurmurHash3-128 of the values (each
 * length-prefixed, so ("ab","c") and ("a","bc") differ), then AES-128 under the
 * campaign's key, one native call per batch. AES is a keyed permutation, so without the
 * key a digest tells nothing about the value and a guess cannot be tested; two keys share
 * a digest only if their 128-bit hashes collide (about 2^-75 for 50 million keys).
 */
export class KeyHasher {
  private readonly cipher: Cipher;
  private plain = Buffer.alloc(16 * 4096);
  private scratch = Buffer.alloc(256);
  private readonly h = new Uint32Array(4);
  /** The digests of the batch after `finish`: record k's at `k * 16`. */
  digests = Buffer.alloc(0);

  constructor(key: Buffer) {
    this.cipher = createCipheriv('aes-128-ecb', key.subarray(0, 16), null);
    this.cipher.setAutoPadding(false);
  }

  /** Hashes the values of batch slot k (call `finish` once the batch's slots are set). */
  set(k: number, values: readonly Uint8Array[]): void {
    let n = 0;
    for (const v of values) n += 4 + v.length;
    if (this.scratch.length < n) this.scratch = Buffer.alloc(n * 2);
    let o = 0;
    for (const v of values) {
      this.scratch.writeUInt32BE(v.length, o);
      this.scratch.set(v, o + 4);
      o += 4 + v.length;
    }
    this.hashScratch(k, o);
  }

  /**
   * Hashes the key fields of record i of a batch into slot k, straight from the batch's
   * bytes (no allocation per row; `""` escapes resolved as the values are).
   */
  setRecord(k: number, b: RecordBatch, i: number, positions: readonly number[]): void {
    let o = 0;
    const first = b.fieldFirst[i] as number;
    for (const p of positions) {
      const f = first + p;
      const s = b.fStart[f] as number;
      const e = b.fEnd[f] as number;
      if (this.scratch.length < o + 4 + (e - s)) {
        const grown = Buffer.alloc((o + 4 + (e - s)) * 2);
        this.scratch.copy(grown, 0, 0, o);
        this.scratch = grown;
      }
      const at = o + 4;
      let n = e - s;
      if (((b.fFlags[f] as number) & FIELD_ESCAPED) === 0)
        for (let j = 0; j < n; j++) this.scratch[at + j] = b.buf[s + j] as number;
      else n = unescapeQuotes(b.buf, s, e).copy(this.scratch, at);
      this.scratch.writeUInt32BE(n, o);
      o = at + n;
    }
    this.hashScratch(k, o);
  }

  private hashScratch(k: number, length: number): void {
    if (this.plain.length < (k + 1) * 16) {
      const grown = Buffer.alloc((k + 1) * 32);
      this.plain.copy(grown);
      this.plain = grown;
    }
    murmur128(this.scratch, 0, length, this.h);
    const h = this.h;
    const p = this.plain;
    const o = k * 16;
    for (let j = 0; j < 4; j++) {
      const v = h[j] as number;
      p[o + j * 4] = v & 0xff;
      p[o + j * 4 + 1] = (v >>> 8) & 0xff;
      p[o + j * 4 + 2] = (v >>> 16) & 0xff;
      p[o + j * 4 + 3] = v >>> 24;
    }
  }

  /** The batch's unkeyed hashes (slot k at `k * 16`), before `finish` encrypts them. */
  get hashes(): Buffer {
    return this.plain;
  }

  /** Encrypts slots 0..count-1 into `digests`. */
  finish(count: number): Buffer {
    this.digests =
      count === 0 ? Buffer.alloc(0) : this.cipher.update(this.plain.subarray(0, count * 16));
    return this.digests;
  }

  /** The digest of text values (for `campaign forget --key`). */
  digestText(values: readonly string[]): Buffer {
    this.set(
      0,
      values.map((v) => Buffer.from(v, 'utf8')),
    );
    return Buffer.from(this.finish(1));
  }
}

/**
 * flowInvocationIds within a campaign: AES-128, under a key of the campaign, flow and
 * mode, over (the key's hash, epoch, occurrence) — the same hash the keyed digest is
 * made from, so a send computes one cipher pass for its ids, as a send outside a campaign
 * does. So
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

  /** Record k of the batch: its key's hash (12 of its 16 bytes), epoch and occurrence. */
  // eslint-disable-next-line max-params -- hot loop: per row: the key fields go straight into the batch cipher input, no object per row
  set(k: number, hash: Buffer, at: number, epoch: number, occurrence: number): void {
    const o = k * 16;
    copyRecordBytes(hash, at, this.plain, o, 12);
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
  idFor(hash: Buffer, epoch: number, occurrence: number): string {
    this.set(0, hash, 0, epoch, occurrence);
    this.prepare([], 1);
    const out = Buffer.alloc(ID_LENGTH);
    this.write(0, out, 0);
    return out.toString('latin1');
  }
}
