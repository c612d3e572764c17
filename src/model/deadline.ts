/**
 * A signal for one request: aborted by its own timeout or by the run's signal. Unlike
 * AbortSignal.any, it removes its listener from the run's long-lived signal when the
 * request is done, so a run of thousands of requests does not pile listeners onto it.
 */
export interface Deadline {
  signal: AbortSignal;
  /** Call when the request is over. */
  done(): void;
}

export function deadline(timeoutMs: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const onParentAbort = () => {
    controller.abort(parent?.reason);
  };
  if (parent?.aborted === true) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
