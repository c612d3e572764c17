/**
 * Deterministic fault injection for the sandbox: each kind of fault draws from its own
 * pseudo-random stream seeded from (seed, kind), so the n-th csv-task call fails or not
 * the same way in every run with that seed, whatever else happens.
 */

export interface FaultOptions {
  /** Seed of every fault decision. Default 1. */
  seed?: number;
  /** Share (0–1) of csv-task calls answered 429 with Retry-After. */
  csvTask429Rate?: number;
  /** Retry-After, in seconds, on injected 429s. Default 1. */
  retryAfterSeconds?: number;
  /** Share of csv-task calls answered 500/503. */
  csvTask5xxRate?: number;
  /** Share of token calls answered 429. */
  token429Rate?: number;
  /** Share of uploads answered 500/503 (before reaching S3). */
  upload5xxRate?: number;
  /** Share of uploads whose connection is reset after part of the body was read. */
  uploadResetRate?: number;
  /** Added to every API and upload response, in ms. */
  latencyMs?: number;
  /** Share of uploads held for `slowUploadMs` before they are looked at (so short-lived URLs expire). */
  slowUploadRate?: number;
  /** How long a slow upload is held, in ms. Default 3000. */
  slowUploadMs?: number;
  /** Share of API calls that find their access token revoked (401). */
  tokenRevokeRate?: number;
  /** Share of Cards API calls (list and cancel) answered 429 with Retry-After. */
  cards429Rate?: number;
  /** Share of Cards API calls answered 503. */
  cards5xxRate?: number;
  /** Share of new invocations whose card Atomic could not assemble (a `card-error` event, no card). */
  cardErrorRate?: number;
  /** Share of published cards their user is shown at once (a `card-displayed` event). */
  cardDisplayRate?: number;
}

export type FaultKind =
  | 'csv-task-429'
  | 'csv-task-5xx'
  | 'token-429'
  | 'upload-5xx'
  | 'upload-reset'
  | 'upload-slow'
  | 'token-revoked'
  | 'cards-429'
  | 'cards-5xx'
  | 'card-error'
  | 'card-displayed';

import { mulberry32 } from '../model/random.js';

export { mulberry32 };

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class Faults {
  private readonly streams = new Map<FaultKind, () => number>();
  /** How many faults of each kind were injected. */
  readonly injected = new Map<FaultKind, number>();

  constructor(readonly options: FaultOptions = {}) {}

  /** Decides whether the next event of this kind fails. */
  next(kind: FaultKind): boolean {
    const rate = this.rate(kind);
    if (rate <= 0) return false;
    let stream = this.streams.get(kind);
    if (stream === undefined) {
      stream = mulberry32(hashString(`${this.options.seed ?? 1}/${kind}`));
      this.streams.set(kind, stream);
    }
    const fail = stream() < rate;
    if (fail) this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
    return fail;
  }

  private rate(kind: FaultKind): number {
    const o = this.options;
    switch (kind) {
      case 'csv-task-429':
        return o.csvTask429Rate ?? 0;
      case 'csv-task-5xx':
        return o.csvTask5xxRate ?? 0;
      case 'token-429':
        return o.token429Rate ?? 0;
      case 'upload-5xx':
        return o.upload5xxRate ?? 0;
      case 'upload-reset':
        return o.uploadResetRate ?? 0;
      case 'upload-slow':
        return o.slowUploadRate ?? 0;
      case 'token-revoked':
        return o.tokenRevokeRate ?? 0;
      case 'cards-429':
        return o.cards429Rate ?? 0;
      case 'cards-5xx':
        return o.cards5xxRate ?? 0;
      case 'card-error':
        return o.cardErrorRate ?? 0;
      case 'card-displayed':
        return o.cardDisplayRate ?? 0;
    }
  }
}
