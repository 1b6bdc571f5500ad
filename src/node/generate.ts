/** Greedy generation and the stop tokens of generation_config.json. No Node APIs: usable from a page too. */
import type { Model } from '../engine/model';
import type { ModelSource } from '../model/source';

/** `eos_token_id` of generation_config.json (a number or a list); empty when the file or the key is absent. */
export async function readEosIds(source: ModelSource): Promise<number[]> {
  const file = `${source.name}/generation_config.json`;
  const text = await source.readText('generation_config.json');
  if (text === null) return [];
  let json: { eos_token_id?: unknown };
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const eos = json?.eos_token_id;
  if (eos === undefined || eos === null) return [];
  const ids = Array.isArray(eos) ? eos : [eos];
  if (!ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new Error(`${file}: eos_token_id must be a token id or a list of token ids, got ${JSON.stringify(eos)}`);
  }
  return ids;
}

export interface GreedyOptions {
  maxTokens: number;
  /** Generation ends after emitting one of these (the stop token is kept in the result). */
  stopIds?: readonly number[];
  onToken?: (id: number) => void;
}

/** Feeds `prompt` after the model's current sequence and returns the greedy continuation. */
export async function generateGreedy(model: Model, prompt: readonly number[], opts: GreedyOptions): Promise<number[]> {
  const stop = new Set(opts.stopIds ?? []);
  const out: number[] = [];
  let feed: readonly number[] = prompt;
  while (out.length < opts.maxTokens) {
    const id = await model.nextToken(feed);
    out.push(id);
    opts.onToken?.(id);
    if (stop.has(id)) break;
    feed = [id];
  }
  return out;
}
