/**
 * Processing of uploaded files, the way Atomic does it on its own machines: a queue of
 * uploads processed one after another, after `processDelayMs`, and only once uploads have
 * been quiet for `processQuietMs` (a bulk send uploads part after part, and the sandbox
 * shares the machine with the tool), yielding to the event loop between slices. Direct
 * uploads (straight to the store) are found by polling.
 */
import type { ClientRequest } from 'node:http';
import type { SandboxContext, Task } from './context.js';
import { processUpload } from './processor.js';

export class Processing {
  private readonly queue: Task[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;
  private poller: NodeJS.Timeout | null = null;
  /** Uploads passing through the gateway right now, and when the last one began or ended. */
  private gatewayUploads = 0;
  private lastGatewayActivity = 0;
  /** Requests the gateway has open to the store, ended on stop so the store can close. */
  readonly upstreams = new Set<ClientRequest>();

  constructor(private readonly ctx: SandboxContext) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** The gateway starts receiving an upload; call the returned function when it ends. */
  uploadStarted(): () => void {
    this.gatewayUploads++;
    this.lastGatewayActivity = Date.now();
    return () => {
      this.gatewayUploads--;
      this.lastGatewayActivity = Date.now();
    };
  }

  enqueue(task: Task): void {
    task.status = 'queued';
    task.uploadedAtMs = Date.now();
    this.queue.push(task);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Waits while uploads are in flight or were busy in the last processQuietMs. */
  private readonly pause = (notBefore = 0): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const s3 = this.ctx.s3;
      const quietMs = this.ctx.options.processQuietMs ?? 300;
      const check = () => {
        if (this.stopping) {
          reject(new Error('the sandbox stopped'));
          return;
        }
        const quietSince = Math.max(this.lastGatewayActivity, s3.lastWriteAt);
        const now = Date.now();
        if (
          this.gatewayUploads > 0 ||
          s3.activeWrites > 0 ||
          now - quietSince < quietMs ||
          now < notBefore
        )
          setTimeout(check, 20);
        else setImmediate(resolve);
      };
      check();
    });

  private async drain(): Promise<void> {
    const delayMs = this.ctx.options.processDelayMs ?? 0;
    for (let task = this.queue.shift(); task !== undefined; task = this.queue.shift()) {
      task.status = 'processing';
      try {
        await this.pause(task.uploadedAtMs + delayMs);
        const result = await processUpload(await this.ctx.s3.read(task.key), task, {
          flow: this.ctx.flowConfig(task.flowId),
          recordInvocation: this.ctx.record,
          pause: () => this.pause(),
        });
        Object.assign(task, {
          status: 'processed',
          rows: result.rows,
          created: result.created,
          duplicates: result.duplicates,
          conflicts: result.conflicts,
          cards: result.cards,
          errors: result.errors,
        });
      } catch (error) {
        task.status = 'failed';
        task.reason = `the file could not be processed: ${(error as Error).message}`;
      }
      // Processed (or not processable): the file leaves the disk unless tests keep it.
      if (this.ctx.options.keepUploads !== true)
        await this.ctx.s3.delete(task.key).catch(() => undefined);
    }
  }

  /** For direct uploads: notices objects that arrived and processes them. */
  async poll(): Promise<void> {
    const { s3, tasks, maxUploadBytes } = this.ctx;
    // A store may show an object while it is still being written (S3 never does): wait.
    if (s3.activeWrites > 0) return;
    for (const task of tasks.values()) {
      if (task.status !== 'issued') continue;
      const head = await s3.head(task.key).catch(() => null);
      // An upload that began meanwhile may be this object, half written: look again later.
      if (s3.activeWrites > 0) return;
      if (head === null) continue;
      task.bytes = head.size;
      task.uploadedAt = new Date().toISOString();
      if (head.size > maxUploadBytes) {
        task.status = 'rejected';
        task.reason = `the file is ${head.size} bytes, over the ${maxUploadBytes}-byte limit`;
        await s3.delete(task.key);
      } else if (
        head.lastModified !== null &&
        head.lastModified.getTime() > task.expiresAtMs + 1000
      ) {
        task.status = 'rejected';
        task.reason = 'the file arrived after its upload URL expired';
        // Never processed: it leaves the disk now, like a processed one (unless kept).
        if (this.ctx.options.keepUploads !== true) await s3.delete(task.key);
      } else {
        this.enqueue(task);
      }
    }
  }

  startPolling(): void {
    const tick = () => {
      this.poller = setTimeout(() => {
        void this.poll().finally(() => {
          if (this.poller !== null) tick();
        });
      }, 200);
    };
    tick();
  }

  /** Waits until every uploaded file has been processed. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const inFlight = () =>
      [...this.ctx.tasks.values()].filter(
        (t) => t.status === 'uploading' || t.status === 'queued' || t.status === 'processing',
      );
    for (;;) {
      if (this.ctx.direct) await this.poll();
      if (inFlight().length === 0 && this.running === null) return;
      if (Date.now() > deadline) {
        throw new Error(
          `sandbox: uploads still being processed (${inFlight()
            .map((t) => t.status)
            .join(
              ', ',
            )}; ${this.gatewayUploads} in the gateway, ${this.ctx.s3.activeWrites} in S3)`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Abandons unprocessed uploads and stops polling. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.poller !== null) clearTimeout(this.poller);
    this.poller = null;
    for (const upstream of this.upstreams) upstream.destroy();
    await this.running?.catch(() => undefined);
  }
}
