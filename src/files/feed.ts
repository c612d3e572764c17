/**
 * Writes chunks into a writable (a CSV parser) with backpressure, then ends it. It stops
 * without waiting when the writable is destroyed — a reader that stops part-way (an
 * error, a sandbox stopping) must not leave the feed waiting for a drain that never comes.
 */
import type { Writable } from 'node:stream';

export async function feed(chunks: AsyncIterable<Uint8Array>, target: Writable): Promise<void> {
  for await (const chunk of chunks) {
    if (target.destroyed) return;
    if (!target.write(chunk))
      await new Promise<void>((resolve) => {
        const done = () => {
          target.off('drain', done);
          target.off('close', done);
          resolve();
        };
        target.once('drain', done);
        target.once('close', done);
      });
  }
  target.end();
}
