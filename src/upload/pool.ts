/**
 * Runs `work` on items pulled from `source` with at most `limit` in flight, yielding
 * results as they finish. At most `limit + ahead` items exist at once: `ahead` items may
 * be produced while every slot is busy (the next part is cut while two upload), so the
 * producer does not sit idle, yet it is never asked to run further ahead than that.
 * `stop()` ends pulling; in-flight work still completes and is yielded. When the source
 * fails (the input changed, the disk filled), nothing new starts, work in flight still
 * completes and is yielded — a part that reached Atomic is always reported — and then the
 * source's error is thrown.
 */
export interface Pool<R> extends AsyncIterable<R> {
  stop(): void;
}

export function pool<T, R>(
  source: AsyncIterable<T>,
  limit: number,
  work: (item: T) => Promise<R>,
  ahead = 0,
): Pool<R> {
  const run = new PoolRun(source, { limit, ahead, work });
  const generator = run.results();
  return {
    stop: () => {
      run.stopped = true;
    },
    [Symbol.asyncIterator]: () => generator,
  };
}

type Done<R> = { kind: 'done'; self: Settled<unknown, R>; result: R };
type Pulled<T> =
  | { kind: 'pulled'; self: Settled<T, unknown>; next: IteratorResult<T> }
  | { kind: 'failed'; self: Settled<T, unknown>; error: unknown };
/** A piece of work or a pull from the source, settled with a note of which it was. */
type Settled<T, R> = Promise<Done<R> | Pulled<T>>;

class PoolRun<T, R> {
  stopped = false;
  private readonly iterator: AsyncIterator<T>;
  private readonly running = new Set<Settled<T, R>>();
  private readonly ready: T[] = [];
  private pulling = false;
  private exhausted = false;
  private inFlight = 0;
  private failure: { error: unknown } | null = null;

  constructor(
    source: AsyncIterable<T>,
    private readonly shape: { limit: number; ahead: number; work: (item: T) => Promise<R> },
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  async *results(): AsyncGenerator<R> {
    try {
      for (;;) {
        this.startReady();
        this.pullMore();
        if (this.running.size === 0) {
          if (this.failure !== null) throw this.failure.error;
          return;
        }
        const settled = await Promise.race(this.running);
        this.running.delete(settled.self as Settled<T, R>);
        if (settled.kind === 'done') {
          this.inFlight--;
          yield settled.result;
        } else this.pulled(settled);
      }
    } finally {
      await Promise.allSettled(this.running);
      if (!this.exhausted) await this.iterator.return?.();
    }
  }

  /** Starts work on ready items while a slot is free. */
  private startReady(): void {
    while (this.inFlight < this.shape.limit && this.ready.length > 0 && !this.isStopped()) {
      const item = this.ready.shift() as T;
      this.inFlight++;
      const p: Settled<T, R> = this.shape
        .work(item)
        .then((result) => ({ kind: 'done', self: p, result }));
      this.running.add(p);
    }
  }

  /** Pulls the next item, one at a time, while fewer than limit + ahead exist. */
  private pullMore(): void {
    const { limit, ahead } = this.shape;
    if (this.exhausted || this.isStopped() || this.pulling) return;
    if (this.inFlight + this.ready.length >= limit + ahead) return;
    const p: Settled<T, R> = this.iterator.next().then(
      (next) => ({ kind: 'pulled', self: p, next }),
      (error: unknown) => ({ kind: 'failed', self: p, error }),
    );
    this.pulling = true;
    this.running.add(p);
  }

  private pulled(settled: Pulled<T>): void {
    this.pulling = false;
    if (settled.kind === 'failed') {
      this.exhausted = true;
      this.stopped = true;
      this.failure = { error: settled.error };
    } else if (settled.next.done === true) this.exhausted = true;
    else if (!this.isStopped()) this.ready.push(settled.next.value);
  }

  /** Read through a method: stop() can flip it while the generator awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }
}
