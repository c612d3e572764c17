/**
 * Runs `work` on items pulled from `source` with at most `limit` in flight, yielding
 * results as they finish. An item is pulled only when a slot is free, so a producer
 * behind `source` (the splitter) is never asked to run ahead: memory stays bounded by
 * the items in flight. `stop()` on the returned handle ends pulling; in-flight work
 * still completes and is yielded.
 */
export interface Pool<R> extends AsyncIterable<R> {
  stop(): void;
}

export function pool<T, R>(source: AsyncIterable<T>, limit: number, work: (item: T) => Promise<R>): Pool<R> {
  let stopped = false;
  // Read through a function: stop() can flip it while this generator awaits.
  const isStopped = () => stopped;
  async function* run(): AsyncGenerator<R> {
    const iterator = source[Symbol.asyncIterator]();
    const running = new Set<Promise<{ self: Promise<unknown>; result: R }>>();
    let exhausted = false;
    try {
      for (;;) {
        while (!exhausted && !isStopped() && running.size < limit) {
          const next = await iterator.next();
          if (next.done === true) {
            exhausted = true;
            break;
          }
          // Stopped while the item was being produced: leave it undone.
          if (isStopped()) break;
          const task: Promise<{ self: Promise<unknown>; result: R }> = work(next.value).then((result) => ({ self: task, result }));
          running.add(task);
        }
        if (running.size === 0) return;
        const { self, result } = await Promise.race(running);
        running.delete(self as Promise<{ self: Promise<unknown>; result: R }>);
        yield result;
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
