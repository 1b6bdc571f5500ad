import type { ModelConfig } from '../model/config';
import type { LogitsWanted } from './model';
import type { ModelStats } from './stats';

/**
 * What generation needs of a model: a whole Model on one device, or a ShardedModel whose layers run on
 * several executors (src/shard). Every call acts on one current sequence.
 */
export interface LanguageModel {
  readonly config: ModelConfig;
  /** Tokens fed to the current sequence. */
  readonly position: number;
  /** Starts a new sequence. */
  reset(): void | Promise<void>;
  /** Feeds ids; the next-token logits of every position, of the last, or none. */
  forward(ids: ArrayLike<number>, want?: LogitsWanted): Promise<Float32Array>;
  /** Feeds ids; the greedy next token. */
  nextToken(ids: ArrayLike<number>): Promise<number>;
  /** Feeds ids, then decodes count greedy tokens (the state then holds all but the last). */
  greedyTokens(ids: ArrayLike<number>, count: number): Promise<number[]>;
  /**
   * Feeds ids, then decodes `total` greedy tokens: the first alone, then chains of `chain`. The state
   * may run a chain ahead of the tokens taken: a caller that stops early resets before feeding more.
   */
  greedyChains(ids: ArrayLike<number>, total: number, chain: number): AsyncGenerator<number[], void, undefined>;
  /** Memory, expert-cache counters and placement of the parts in this process (counters only: cheap). */
  stats(): ModelStats;
  destroy(): void | Promise<void>;
}

/** greedyChains a chain at a time, each decoded after the caller took the one before (nothing runs ahead). */
export async function* chainsInTurn(model: LanguageModel, ids: ArrayLike<number>, total: number, chain: number): AsyncGenerator<number[], void, undefined> {
  checkChains(total, chain);
  for (let taken = 0, feed = ids; taken < total; ) {
    const out = await model.greedyTokens(feed, taken === 0 ? 1 : Math.min(chain, total - taken));
    taken += out.length;
    feed = [out[out.length - 1]];
    yield out;
  }
}

export function checkChains(total: number, chain: number): void {
  if (!Number.isSafeInteger(total) || total < 1) throw new RangeError(`greedyChains needs a total ≥ 1, got ${total}`);
  if (!Number.isSafeInteger(chain) || chain < 1) throw new RangeError(`greedyChains needs a chain ≥ 1, got ${chain}`);
}
