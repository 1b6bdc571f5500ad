import type { Model } from './model';

/**
 * Greedy continuation of `prompt` from a fresh sequence: yields up to `maxTokens` ids, stopping after
 * an id in `stop`. Sampling on the GPU: one 4-byte id comes back per token.
 */
export async function* greedy(model: Model, prompt: ArrayLike<number>, maxTokens: number, stop: Iterable<number> = []): AsyncGenerator<number> {
  const stopIds = new Set(stop);
  model.reset();
  let next = prompt;
  for (let i = 0; i < maxTokens; i++) {
    const id = await model.nextToken(next);
    yield id;
    if (stopIds.has(id)) return;
    next = [id];
  }
}
