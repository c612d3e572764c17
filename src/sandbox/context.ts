/**
 * What the sandbox's parts share: its settings, the flows, the object store, the
 * invocations, cards and customer directory, the tokens and the upload tasks. Routes,
 * the upload gateway and processing each take this one object.
 */
import { randomBytes } from 'node:crypto';
import type { FlowConfig } from '../model/flow.js';
import { CardStore } from './cards.js';
import { CustomerDirectory, seededUsers, type DirectoryUser } from './directory.js';
import { Faults, type FaultOptions } from './faults.js';
import type { SeededFlow } from './flows.js';
import type { ObjectStore, S3BackendOptions } from './object-store.js';
import { InvocationStore, type SandboxInvocation } from './processor.js';

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
  /** Keep every invocation's payload for /sandbox/invocations. Default true. */
  storePayloads?: boolean;
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

/** Why an invocation created no card (SPEC 6). */
export type NoCardReason = 'no-match' | 'too-many-matches' | 'no-test-user';

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
  readonly store: InvocationStore;
  readonly cards = new CardStore();
  readonly directory: CustomerDirectory;
  /** Invocations that made no card, and why (for tests and /sandbox/stats). */
  readonly noCard = new Map<string, NoCardReason>();
  readonly tokens = new Map<string, number>();
  readonly tasks = new Map<string, Task>();
  baseUrl = '';
  /** Host header values the sandbox answers to; filled once the port is known. */
  readonly allowedHosts = new Set<string>();

  constructor(
    readonly options: SandboxOptions,
    readonly flows: Map<string, SeededFlow>,
    readonly s3: ObjectStore,
  ) {
    this.environmentId = options.environmentId ?? SANDBOX_ENVIRONMENT;
    this.clientId = options.clientId ?? SANDBOX_CLIENT_ID;
    this.clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
    this.maxUploadBytes = options.maxUploadBytes ?? 32_000_000;
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
    this.store = new InvocationStore(options.storePayloads ?? true);
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

  /** Turns a new invocation into cards, or notes why it makes none. Returns the cards made. */
  deliver(invocation: SandboxInvocation): number {
    const match = this.directory.match(invocation.target, invocation.mode);
    if (match.kind !== 'users') {
      this.noCard.set(
        invocation.flowInvocationId,
        match.kind === 'too-many' ? 'too-many-matches' : match.kind,
      );
      return 0;
    }
    const flow = this.flows.get(invocation.flowId);
    const template = flow?.cardTemplate ?? {
      id: `${invocation.flowId}-card`,
      name: invocation.flowId,
    };
    this.cards.create(invocation.flowInvocationId, match.userIds, template);
    return match.userIds.length;
  }
}

export function publicTask(task: Task): SandboxTask {
  const { s3Url: _url, expiresAtMs: _ms, uploadedAtMs: _at, ...rest } = task;
  return { ...rest, errors: [...rest.errors] };
}
