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
  let stopped = false;
  // Read through a function: stop() can flip it while this generator awaits.
  const isStopped = () => stopped;
  type Done = { kind: 'done'; self: Promise<Done | Pulled>; result: R };
  type Pulled =
    | { kind: 'pulled'; self: Promise<Done | Pulled>; next: IteratorResult<T> }
    | { kind: 'failed'; self: Promise<Done | Pulled>; error: unknown };
  async function* run(): AsyncGenerator<R> {
    const iterator = source[Symbol.asyncIterator]();
    const running = new Set<Promise<Done | Pulled>>();
    const ready: T[] = [];
    let pulling = false;
    let exhausted = false;
    let inFlight = 0;
    let failure: { error: unknown } | null = null;
    try {
      for (;;) {
        while (inFlight < limit && ready.length > 0 && !isStopped()) {
          const item = ready.shift() as T;
          inFlight++;
          const p: Promise<Done | Pulled> = work(item).then((result) => ({
            kind: 'done',
            self: p,
            result,
          }));
          running.add(p);
        }
        if (!exhausted && !isStopped() && !pulling && inFlight + ready.length < limit + ahead) {
          const p: Promise<Done | Pulled> = iterator.next().then(
            (next) => ({ kind: 'pulled', self: p, next }),
            (error: unknown) => ({ kind: 'failed', self: p, error }),
          );
          pulling = true;
          running.add(p);
        }
        if (running.size === 0) {
          if (failure !== null) throw failure.error;
          return;
        }
        const settled = await Promise.race(running);
        running.delete(settled.self);
        if (settled.kind === 'failed') {
          pulling = false;
          exhausted = true;
          stopped = true;
          failure = { error: settled.error };
        } else if (settled.kind === 'pulled') {
          pulling = false;
          if (settled.next.done === true) exhausted = true;
          else if (!isStopped()) ready.push(settled.next.value);
        } else {
          inFlight--;
          yield settled.result;
        }
      }
    } finally {
      await Promise.allSettled(running);
      if (!exhausted) await iterator.return?.();
    }
  }
  const generator = run();
  return {
    stop: () => {
      stopped = true;
    },
    [Symbol.asyncIterator]: () => generator,
  };
}
