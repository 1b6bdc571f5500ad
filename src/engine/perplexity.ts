/** Perplexity of a token sequence under a model: exp of the mean negative log-likelihood of ids[1..]. */
import type { Model } from './model';

export async function perplexity(model: Model, ids: number[]): Promise<number> {
  model.reset();
  const V = model.config.vocabSize;
  const logits = await model.forward(ids, 'all');
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, row[i]);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(row[i] - max);
    nll += max + Math.log(sum) - row[ids[t + 1]];
  }
  return Math.exp(nll / (ids.length - 1));
}
