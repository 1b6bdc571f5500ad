import type { LayerRange } from '../model/config';
import type { LogitsWanted, Model, PartInput } from '../engine/model';
import type { ModelStats } from '../engine/stats';

/**
 * One place a range of layers runs: a GPUDevice of this process (LocalExecutor) or a shard server
 * (RemoteExecutor). It keeps its layers' state of the sequence it is fed; the part holding layer 0
 * takes token ids, the others the residual stream the part before returned.
 */
export interface Executor {
  /** Names it in errors and plans: "device 1", "ws://10.0.0.2:9000". */
  readonly name: string;
  readonly layers: LayerRange;
  /** False once it is gone for good (a shard's connection lost): a coordinator may take its layers back. */
  readonly alive: boolean;
  /** Feeds the part; the residual stream after its last layer ('hidden'), or logits (a part with the head). */
  forward(input: PartInput, want: LogitsWanted | 'hidden'): Promise<Float32Array>;
  /** Feeds the part (it holds the head); the greedy next token. */
  nextToken(input: PartInput): Promise<number>;
  /** Starts a new sequence. */
  reset(): Promise<void>;
  /** The part's stats, when it runs in this process; null for a remote shard (its memory is the server's). */
  stats(): ModelStats | null;
  close(): Promise<void>;
}

/** A model part on a GPUDevice of this process (the device is the coordinator's to destroy). */
export class LocalExecutor implements Executor {
  constructor(
    readonly name: string,
    readonly model: Model,
  ) {}

  readonly alive = true;

  get layers(): LayerRange {
    return this.model.range;
  }

  forward(input: PartInput, want: LogitsWanted | 'hidden'): Promise<Float32Array> {
    return this.model.forward(input, want);
  }

  nextToken(input: PartInput): Promise<number> {
    return this.model.nextToken(input);
  }

  async reset(): Promise<void> {
    this.model.reset();
  }

  stats(): ModelStats {
    return this.model.stats(this.name);
  }

  async close(): Promise<void> {
    this.model.destroy();
  }
}
