import type { ModelConfig } from '../model/config';
import { chainsInTurn, type LanguageModel } from '../engine/languageModel';
import type { LogitsWanted, PartInput } from '../engine/model';
import type { Executor } from './executor';
import { mergeStats, type ModelStats } from '../engine/stats';

/** A failure of one executor: names it and its layers. */
export class ShardError extends Error {
  constructor(
    readonly executor: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ShardError';
  }
}

export interface ShardedModelOptions {
  /** Runs after the executors are closed (the coordinator's devices go). */
  cleanup?: () => void;
  /**
   * Called with an executor that failed: returns one that runs the same layers (a local part), which
   * takes its place; the sequence is then replayed and the call retried. Absent: the failure is the
   * caller's, and the sequence needs a reset.
   */
  replace?: (failed: Executor) => Promise<Executor>;
  /** Told of each takeover. */
  onReplace?: (failed: Executor, by: Executor, why: Error) => void;
}

/**
 * A model whose layers run on several executors, in layer order: token ids go to the first, each
 * part's residual stream to the next, and the last one (which holds the head) gives logits or the
 * greedy token. The math of every layer is the same as on one device, so the logits are too.
 */
export class ShardedModel implements LanguageModel {
  /** Every token the current sequence has been fed, for a replay after a takeover. */
  private history: number[] = [];
  /** Set when an executor failed part-way: the parts hold different numbers of tokens. */
  private broken: string | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly executors: Executor[],
    private readonly opts: ShardedModelOptions = {},
  ) {
    let next = 0;
    for (const e of executors) {
      if (e.layers.from !== next) throw new Error(`${e.name} serves layers ${e.layers.from}-${e.layers.to - 1}, but the next layer to place is ${next}`);
      next = e.layers.to;
    }
    if (next !== config.numLayers) throw new Error(`the executors serve layers 0-${next - 1} of the model's ${config.numLayers}`);
  }

  get position(): number {
    return this.history.length;
  }

  /** The local parts' memory and expert caches together; every part's layers and where they run. */
  stats(): ModelStats {
    const local = this.executors.map((e) => e.stats()).filter((s): s is ModelStats => s !== null);
    return mergeStats(local, this.executors.map((e) => ({ ...e.layers, where: e.name })));
  }

  async reset(): Promise<void> {
    this.history = [];
    this.broken = null;
    await this.guard(() => Promise.all(this.executors.map((e) => named(e, () => e.reset()))));
  }

  forward(ids: ArrayLike<number>, want: LogitsWanted = 'last'): Promise<Float32Array> {
    return this.fed(ids, () => this.pipeline(ids, (last, input) => last.forward(input, want)));
  }

  nextToken(ids: ArrayLike<number>): Promise<number> {
    return this.fed(ids, () => this.pipeline(ids, (last, input) => last.nextToken(input)));
  }

  /** Token by token: each step crosses every executor, so there is no GPU-side chain to gain. */
  async greedyTokens(ids: ArrayLike<number>, count: number): Promise<number[]> {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`greedyTokens needs a count ≥ 1, got ${count}`);
    const out = [await this.nextToken(ids)];
    while (out.length < count) out.push(await this.nextToken([out[out.length - 1]]));
    return out;
  }

  /** A chain at a time, as greedyTokens: nothing to run ahead of. */
  greedyChains(ids: ArrayLike<number>, total: number, chain: number): AsyncGenerator<number[], void, undefined> {
    return chainsInTurn(this, ids, total, chain);
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.executors.map((e) => e.close()));
    this.opts.cleanup?.();
  }

  /** `ids` fed through `run`; they join the history once every part has them. */
  private async fed<T>(ids: ArrayLike<number>, run: () => Promise<T>): Promise<T> {
    if (this.broken) throw new Error(`an earlier step failed on ${this.broken}, so the parts of the sequence disagree: call reset() first`);
    const r = await this.guard(run);
    for (let i = 0; i < ids.length; i++) this.history.push(ids[i]);
    return r;
  }

  /**
   * Runs `f`; when an executor fails and a replacement is at hand, the replacement takes its layers,
   * every part starts the sequence again from the history, and `f` runs once more.
   */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await f();
      } catch (err) {
        const i = err instanceof ShardError ? this.executors.findIndex((e) => e.name === err.executor) : -1;
        // Only a lost executor is replaced; one that refused the request (a bad token id) is not.
        if (i < 0 || !this.opts.replace || this.executors[i].alive) {
          if (i >= 0) this.broken = this.executors[i].name;
          throw err;
        }
        const failed = this.executors[i];
        let by: Executor;
        try {
          by = await this.opts.replace(failed);
        } catch (e) {
          this.broken = failed.name;
          throw new ShardError(failed.name, `${(err as Error).message}; taking its layers back failed: ${(e as Error).message}`, { cause: err });
        }
        this.executors[i] = by;
        void failed.close();
        this.opts.onReplace?.(failed, by, err as Error);
        try {
          await Promise.all(this.executors.map((e) => named(e, () => e.reset())));
          if (this.history.length) await this.pipeline(this.history, (last, input) => last.forward(input, 'none'));
        } catch (e) {
          // Another executor lost during the replay is taken back in turn; anything else leaves the parts
          // holding different tokens.
          if (e instanceof ShardError && this.executors.some((x) => x.name === e.executor && !x.alive)) continue;
          this.broken = e instanceof ShardError ? e.executor : by.name;
          throw e;
        }
      }
    }
  }

  /** ids through every executor but the last, then `end` on the last. */
  private async pipeline<T>(ids: ArrayLike<number>, end: (last: Executor, input: PartInput) => Promise<T>): Promise<T> {
    let input: PartInput = ids;
    const parts = this.executors;
    for (let i = 0; i < parts.length - 1; i++) {
      const e = parts[i];
      const x: PartInput = input;
      input = { hidden: await named(e, (): Promise<Float32Array> => e.forward(x, 'hidden')) };
    }
    const last = parts[parts.length - 1];
    const x = input;
    return named(last, () => end(last, x));
  }
}

/** An executor's call, its failure a ShardError naming it and its layers. */
async function named<T>(e: Executor, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof ShardError) throw err;
    throw new ShardError(e.name, `${e.name} (layers ${e.layers.from}-${e.layers.to - 1}): ${(err as Error).message}`, { cause: err });
  }
}
