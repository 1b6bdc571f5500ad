import type { GenerateChunk, GenerateResult } from '../engine/generation';
import type { Generation } from './engine';

/**
 * A Generation over `run`, which hands each chunk to `emit` as it comes and resolves with the
 * result: `for await` gives the chunks, `await` the result (and rethrows its error or abort).
 */
export function generation(run: (emit: (c: GenerateChunk) => void) => Promise<GenerateResult>): Generation {
  const queue: GenerateChunk[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  const result = run((c) => {
    queue.push(c);
    wake?.();
  });
  result
    .finally(() => {
      done = true;
      wake?.();
    })
    .catch(() => {});
  return {
    result,
    then: (onResolved, onRejected) => result.then(onResolved, onRejected),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (done) {
          await result; // rethrows an abort or error
          return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
  };
}
