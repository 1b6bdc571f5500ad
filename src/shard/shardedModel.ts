import type { ModelConfig } from '../model/config';
import type { LanguageModel } from '../engine/languageModel';
import type { LogitsWanted, PartInput } from '../engine/model';
import type { Executor } from './executor';

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

/**
 * A model whose layers run on several executors, in layer order: token ids go to the first, each
 * part's residual stream to the next, and the last one (which holds the head) gives logits or the
 * greedy token. The math of every layer is the same as on one device, so the logits are too.
 */
export class ShardedModel implements LanguageModel {
  private fed = 0;
  /** Set when an executor failed part-way: the parts hold different numbers of tokens. */
  private broken: string | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly executors: Executor[],
    /** Runs after the executors are closed (the coordinator's devices go). */
    private readonly cleanup: () => void = () => {},
  ) {
    let next = 0;
    for (const e of executors) {
      if (e.layers.from !== next) throw new Error(`${e.name} serves layers ${e.layers.from}-${e.layers.to - 1}, but the next layer to place is ${next}`);
      next = e.layers.to;
    }
    if (next !== config.numLayers) throw new Error(`the executors serve layers 0-${next - 1} of the model's ${config.numLayers}`);
  }

  get position(): number {
    return this.fed;
  }

  async reset(): Promise<void> {
    await Promise.all(this.executors.map((e) => this.call(e, () => e.reset())));
    this.fed = 0;
    this.broken = null;
  }

  async forward(ids: ArrayLike<number>, want: LogitsWanted = 'last'): Promise<Float32Array> {
    const { last, input } = await this.through(ids);
    const out = await this.step(last, ids.length, () => last.forward(input, want));
    return out;
  }

  async nextToken(ids: ArrayLike<number>): Promise<number> {
    const { last, input } = await this.through(ids);
    return this.step(last, ids.length, () => last.nextToken(input));
  }

  /** Token by token: each step crosses every executor, so there is no GPU-side chain to gain. */
  async greedyTokens(ids: ArrayLike<number>, count: number): Promise<number[]> {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`greedyTokens needs a count ≥ 1, got ${count}`);
    const out = [await this.nextToken(ids)];
    while (out.length < count) out.push(await this.nextToken([out[out.length - 1]]));
    return out;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.executors.map((e) => e.close()));
    this.cleanup();
  }

  /** ids through every executor but the last; that one and what it is to be fed. */
  private async through(ids: ArrayLike<number>): Promise<{ last: Executor; input: PartInput }> {
    if (this.broken) throw new Error(`an earlier step failed on ${this.broken}, so the parts of the sequence disagree: call reset() first`);
    let input: PartInput = ids;
    const parts = this.executors;
    for (let i = 0; i < parts.length - 1; i++) {
      const e = parts[i];
      input = { hidden: await this.step(e, 0, () => e.forward(input, 'hidden')) };
    }
    return { last: parts[parts.length - 1], input };
  }

  /** One executor's call; a failure marks the sequence broken. `fed` tokens are counted when the last part is done. */
  private async step<T>(e: Executor, fed: number, f: () => Promise<T>): Promise<T> {
    try {
      const r = await this.call(e, f);
      this.fed += fed;
      return r;
    } catch (err) {
      this.broken = e.name;
      throw err;
    }
  }

  private async call<T>(e: Executor, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ShardError) throw err;
      throw new ShardError(e.name, `${e.name} (layers ${e.layers.from}-${e.layers.to - 1}): ${(err as Error).message}`, { cause: err });
    }
  }
}
