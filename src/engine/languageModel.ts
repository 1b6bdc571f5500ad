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
  /** Memory, expert-cache counters and placement of the parts in this process (counters only: cheap). */
  stats(): ModelStats;
  destroy(): void | Promise<void>;
}
