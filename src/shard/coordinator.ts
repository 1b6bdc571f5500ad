/**
 * Builds a ShardedModel for one load: remote shards serve the layers they say they serve, and the rest
 * are split over `devices` GPUDevices of this process.
 */
import type { Checkpoint } from '../model/checkpoint';
import type { LayerRange } from '../model/config';
import { Model, type ModelOptions } from '../engine/model';
import { LocalExecutor, type Executor } from './executor';
import { splitLayers } from './plan';
import { RemoteExecutor, type ShardSpec, type WebSocketClass } from './remoteExecutor';
import { ShardedModel } from './shardedModel';

export interface ShardingOptions {
  /** Local GPUDevices to split the layers no shard serves over (default 1). */
  devices?: number;
  shards?: ShardSpec[];
  /** A shard request unanswered this long fails, naming the shard (default 30 s). */
  shardTimeoutMs?: number;
  /**
   * A shard lost mid-generation (closed, stalled past the timeout): 'error' (default) fails the call,
   * naming it; 'local' loads its layers here (the weights must be readable from this model's source),
   * replays the sequence and goes on, the tokens already produced kept.
   */
  onShardFailure?: 'error' | 'local';
}

/** The layer ranges of 0..numLayers that no range of `taken` covers. */
function gaps(numLayers: number, taken: LayerRange[]): LayerRange[] {
  const out: LayerRange[] = [];
  let next = 0;
  for (const r of [...taken].sort((a, b) => a.from - b.from)) {
    if (r.from > next) out.push({ from: next, to: r.from });
    next = Math.max(next, r.to);
  }
  if (next < numLayers) out.push({ from: next, to: numLayers });
  return out;
}

export async function loadSharded(
  ckpt: Checkpoint,
  opts: ShardingOptions & {
    model: ModelOptions;
    getDevice: () => Promise<GPUDevice>;
    WebSocket?: WebSocketClass;
    onReplace?: (failed: Executor, by: Executor, why: Error) => void;
  },
): Promise<ShardedModel> {
  const c = ckpt.config;
  const deviceCount = opts.devices ?? 1;
  if (!Number.isSafeInteger(deviceCount) || deviceCount < 1) throw new RangeError(`devices must be a whole number ≥ 1, got ${opts.devices}`);
  if (opts.onShardFailure !== undefined && opts.onShardFailure !== 'error' && opts.onShardFailure !== 'local')
    throw new RangeError(`onShardFailure must be 'error' or 'local', got ${JSON.stringify(opts.onShardFailure)}`);
  const executors: Executor[] = [];
  const devices: GPUDevice[] = [];
  const cleanup = () => devices.forEach((d) => d.destroy());
  try {
    const remote = await Promise.allSettled((opts.shards ?? []).map((s) => RemoteExecutor.connect(s, c, { timeoutMs: opts.shardTimeoutMs, WebSocket: opts.WebSocket })));
    for (const r of remote) if (r.status === 'fulfilled') executors.push(r.value);
    const refused = remote.find((r) => r.status === 'rejected');
    if (refused) throw (refused as PromiseRejectedResult).reason;
    const sorted = [...executors].sort((a, b) => a.layers.from - b.layers.from);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].layers.from < sorted[i - 1].layers.to) throw new Error(`${sorted[i - 1].name} and ${sorted[i].name} both serve layer ${sorted[i].layers.from}`);
    }
    // Every gap gets at least one device's part; more devices go to the longer gaps.
    const open = gaps(c.numLayers, executors.map((e) => e.layers));
    const total = open.reduce((s, g) => s + g.to - g.from, 0);
    const parts = open.flatMap((g) => splitLayers(c, g, Math.max(1, Math.round((deviceCount * (g.to - g.from)) / Math.max(1, total))), { quantize: opts.model.quantize }));
    for (let i = 0; i < parts.length; i++) {
      const d = i % deviceCount;
      devices[d] ??= await opts.getDevice();
      const model = await Model.fromCheckpoint(ckpt, devices[d], { ...opts.model, layers: parts[i] });
      executors.push(new LocalExecutor(`device ${d}`, model));
    }
    const replace = async (failed: Executor) => {
      devices[0] ??= await opts.getDevice();
      return new LocalExecutor(`device 0 (for ${failed.name})`, await Model.fromCheckpoint(ckpt, devices[0], { ...opts.model, layers: failed.layers }));
    };
    return new ShardedModel(c, executors.sort((a, b) => a.layers.from - b.layers.from), {
      cleanup,
      replace: opts.onShardFailure === 'local' ? replace : undefined,
      onReplace: opts.onReplace,
    });
  } catch (e) {
    await Promise.allSettled(executors.map((x) => x.close()));
    cleanup();
    throw e;
  }
}
