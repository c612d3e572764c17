/**
 * What the sandbox's parts share: its settings, the flows, the object store, the
 * invocations, cards and customer directory, the tokens and the upload tasks. Routes,
 * the upload gateway and processing each take this one object.
 */
import { MAX_PART_BYTES } from '../model/limits.js';
import { randomBytes } from 'node:crypto';
import type { FlowConfig } from '../model/flow.js';
import { AnalyticsLog, type AnalyticsOptions } from './analytics.js';
import { CardStore } from './cards.js';
import { CustomerDirectory, seededUsers, type DirectoryUser } from './directory.js';
import { memoryBudget } from './disk-table.js';
import { Faults, type FaultOptions } from './faults.js';
import type { SeededFlow } from './flows.js';
import {
  InvocationLedger,
  type Delivered,
  type NoCardReason,
  type SandboxInvocation,
} from './ledger.js';
import type { RecordInvocation } from './processor.js';
import type { ObjectStore, S3BackendOptions } from './store-types.js';

export type { NoCardReason };

export const SANDBOX_CLIENT_ID = 'sandbox-client';
export const SANDBOX_ENVIRONMENT = 'sandbox';
/** Where the sandbox takes card cancellations (an assumption: Atomic does not publish it). */
export const DEFAULT_CANCEL_PATH = '/v1/{env}/cards/cancel';

export interface SandboxOptions {
  /** Port of the API; 0 (default) picks a free one. */
  port?: number;
  /** Directory of flow JSON files. Default: the package's samples/flows. */
  flowsDir?: string;
  environmentId?: string;
  clientId?: string;
  /** The client secret the token endpoint accepts. Default: random, made at start. */
  clientSecret?: string;
  /** Use this S3-compatible store instead of the sandbox's own. */
  s3?: S3BackendOptions;
  /** Hand out URLs straight to S3 (no gateway); uploads are then found by polling. */
  directUploads?: boolean;
  /** Presigned POST (default, as Atomic documents) or PUT. PUT implies direct uploads. */
  uploadMethod?: 'post' | 'put';
  /** Largest accepted upload, in bytes. Default 32,000,000. */
  maxUploadBytes?: number;
  /** Validity of upload URLs, in seconds. Default 300. */
  urlTtlSeconds?: number;
  /** Validity of access tokens, in seconds. Default 3600. */
  tokenTtlSeconds?: number;
  /** Bulk tasks running at once per environment before csv-task answers 429. Default 5; 0 = no limit. */
  maxRunningTasks?: number;
  faults?: FaultOptions;
  /** The analytics export's period and delay (SPEC 6.1). Default: hours, listed 5 minutes after they end. */
  analytics?: AnalyticsOptions;
  /** Keep every invocation's payload (on disk) for /sandbox/invocations. Default true. */
  storePayloads?: boolean;
  /**
   * Keep uploaded files after processing them, for tests that compare bytes. Default
   * false: a file is removed once processed, so disk holds only the uploads in flight.
   */
  keepUploads?: boolean;
  /** Where the sandbox's private folder is made. Default: the system's temporary folder. */
  tempDir?: string;
  /**
   * Memory for the indexes (ids; each user's cards per template), in bytes (default 64 MiB,
   * about half a million rows); beyond it they grow on disk. Everything else kept per row
   * is on disk from the start.
   */
  indexMemoryBytes?: number;
  /**
   * Uploaded files are processed once uploads have been quiet this long, so processing
   * never slows a bulk send down (Atomic processes on its own machines). Default 300 ms.
   */
  processQuietMs?: number;
  /** Processing of an upload starts no sooner than this after it arrived. Default 0. */
  processDelayMs?: number;
  /** The customer directory. Default: the seeded one (directory.ts). */
  users?: DirectoryUser[];
  /** An unknown `atomic___id` is a user of its own (non-test). Default true. */
  implicitUsers?: boolean;
  /** Path of the cancel request, `{env}` for the environment. Default /v1/{env}/cards/cancel. */
  cancelPath?: string;
  /** Called with one line per request (method, path, status); no secrets. */
  log?: (line: string) => void;
  /**
   * Called with every credential the sandbox hands out: access tokens, and the policy
   * and signature of each presigned URL. For tests that prove none of them leaks.
   */
  onCredential?: (kind: 'access-token' | 'policy' | 'signature', value: string) => void;
}

export type TaskStatus =
  'issued' | 'uploading' | 'queued' | 'processing' | 'processed' | 'failed' | 'rejected';

export interface SandboxTask {
  taskId: string;
  flowId: string;
  mode: 'live' | 'test';
  key: string;
  createdAt: string;
  expiresAt: string;
  status: TaskStatus;
  uploadAttempts: number;
  uploadedAt: string | null;
  bytes: number | null;
  rows: number;
  created: number;
  duplicates: number;
  conflicts: number;
  /** Cards created from this upload's rows. */
  cards: number;
  errors: { line: number; message: string }[];
  /** Why an upload was refused or processing failed. */
  reason: string | null;
}

export interface Task extends SandboxTask {
  /** Where the gateway forwards uploads (the bucket URL). */
  s3Url: string;
  expiresAtMs: number;
  uploadedAtMs: number;
}

export class SandboxContext {
  readonly environmentId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly inspectionToken = randomBytes(24).toString('base64url');
  readonly maxUploadBytes: number;
  readonly urlTtlSeconds: number;
  readonly tokenTtlSeconds: number;
  readonly maxRunning: number;
  readonly method: 'post' | 'put';
  readonly direct: boolean;
  readonly cancelPath: string;
  readonly faults: Faults;
  /** This start of the sandbox: part of its environment id unless one is given. */
  readonly instanceId = randomBytes(4).toString('hex');
  readonly ledger: InvocationLedger;
  readonly cards: CardStore;
  readonly analytics: AnalyticsLog;
  readonly directory: CustomerDirectory;
  readonly tokens = new Map<string, number>();
  readonly tasks = new Map<string, Task>();
  baseUrl = '';
  /** Host header values the sandbox answers to; filled once the port is known. */
  readonly allowedHosts = new Set<string>();

  constructor(
    readonly options: SandboxOptions,
    readonly flows: Map<string, SeededFlow>,
    readonly s3: ObjectStore,
    /** The private folder for the ledger and cards (disk-table.ts). */
    stateDir: string,
  ) {
    this.environmentId = options.environmentId ?? `${SANDBOX_ENVIRONMENT}-${this.instanceId}`;
    this.clientId = options.clientId ?? SANDBOX_CLIENT_ID;
    this.clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
    this.maxUploadBytes = options.maxUploadBytes ?? MAX_PART_BYTES;
    this.urlTtlSeconds = options.urlTtlSeconds ?? 300;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.maxRunning = options.maxRunningTasks ?? 5;
    this.method = options.uploadMethod ?? 'post';
    this.direct = options.directUploads === true || this.method === 'put';
    this.cancelPath = (options.cancelPath ?? DEFAULT_CANCEL_PATH).replace(
      '{env}',
      encodeURIComponent(this.environmentId),
    );
    this.faults = new Faults(options.faults);
    // One memory budget for both indexes (ids, users' cards per template).
    const budget = memoryBudget(options.indexMemoryBytes);
    this.ledger = new InvocationLedger(stateDir, options.storePayloads ?? true, budget);
    this.cards = new CardStore(stateDir, this.ledger, budget);
    this.analytics = new AnalyticsLog(stateDir, this.environmentId, options.analytics);
    this.directory = new CustomerDirectory(
      options.users ?? seededUsers(),
      options.implicitUsers ?? true,
    );
  }

  flowConfig(flowId: string): FlowConfig {
    return this.flows.get(flowId)?.config as FlowConfig;
  }

  /** Bulk tasks running: files being received or processed (a URL nobody used is not a task). */
  running(): number {
    let n = 0;
    for (const t of this.tasks.values())
      if (t.status === 'uploading' || t.status === 'processing') n++;
    return n;
  }

  /** Records a row's invocation and turns a new one into cards, or notes why it makes none. */
  readonly record: RecordInvocation = (invocation) =>
    this.ledger.record(invocation, (ordinal) => this.deliver(invocation, ordinal));

  private deliver(invocation: SandboxInvocation, ordinal: number): Delivered {
    const match = this.directory.match(invocation.target, invocation.mode);
    if (match.kind !== 'users')
      return {
        firstCard: 0,
        cards: 0,
        noCard: match.kind === 'too-many' ? 'too-many-matches' : match.kind,
      };
    const flow = this.flows.get(invocation.flowId);
    const template = flow?.cardTemplate ?? {
      id: `${invocation.flowId}-card`,
      name: invocation.flowId,
    };
    const at = Date.now();
    const event = {
      flowInvocationId: invocation.flowInvocationId,
      cardTemplateId: template.id,
      at,
    };
    if (this.faults.next('card-error')) {
      for (const userId of match.userIds)
        this.analytics.record({ ...event, name: 'card-error', userId, cardInstanceId: null });
      return { firstCard: 0, cards: 0, noCard: 'card-error' };
    }
    const firstCard = this.cards.create(ordinal, match.userIds, template, at);
    match.userIds.forEach((userId, i) => {
      const cardInstanceId = `ci-${firstCard + i + 1}`;
      this.analytics.record({ ...event, name: 'card-published', userId, cardInstanceId });
      if (this.faults.next('card-displayed'))
        this.analytics.record({ ...event, name: 'card-displayed', userId, cardInstanceId });
    });
    return { firstCard, cards: match.userIds.length, noCard: null };
  }

  close(): void {
    this.analytics.flush();
    this.cards.close();
    this.ledger.close();
  }
}

export function publicTask(task: Task): SandboxTask {
  const { s3Url: _url, expiresAtMs: _ms, uploadedAtMs: _at, ...rest } = task;
  return { ...rest, errors: [...rest.errors] };
}
