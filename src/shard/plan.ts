/**
 * Placement: which executor runs which layers, from the config and each executor's memory budget, with
 * what it will hold and a predicted speed. Pure arithmetic over the config (no weights are read), so
 * it runs on a 456B model's config.json anywhere.
 */
import type { LayerRange, ModelConfig } from '../model/config';
import { QUANT_BLOCK, type QuantFormat } from '../model/quantize';
import { kvRowBytes } from '../gpu/attention';
import type { KvFormat } from '../gpu/gpu';

export type StoredFormat = 'f32' | 'f16' | 'bf16';

export interface ExecutorSpec {
  name: string;
  kind: 'device' | 'remote';
  /** Memory for weights and sequence state, bytes. */
  bytes: number;
  /** Rate at which its kernels read weights, bytes/s (a stated assumption, see DEFAULT_BANDWIDTH). */
  bandwidth: number;
}

export interface PlanOptions {
  /** The checkpoint's float format (every tensor not quantized is held in it). Default bf16. */
  stored?: StoredFormat;
  quantize?: QuantFormat;
  /** Tokens of context the KV caches are sized for. Default 4096. */
  context?: number;
  /** The KV caches' format: f16 (default: what a GPU with shader-f16 holds), or f32 (software adapters). */
  kv?: KvFormat;
  /** Link between executors: bytes/s and round-trip seconds of a hop to a remote shard. */
  linkBandwidth?: number;
  linkLatency?: number;
  /** Seconds one hop between two devices of this machine costs (through the CPU). */
  localHop?: number;
}

/** Stated assumptions of the prediction; every one can be given instead (lightmoe plan --help). */
export const DEFAULTS = {
  /** A discrete GPU's kernels reading weights (about half the memory bandwidth of a 2024 mid-range card). */
  deviceBandwidth: 300e9,
  /** A datacenter GPU behind a shard (about half an H100's HBM3). */
  remoteBandwidth: 1500e9,
  /** 10 Gb Ethernet. */
  linkBandwidth: 1.25e9,
  linkLatency: 0.5e-3,
  localHop: 0.2e-3,
  context: 4096,
} as const;

const FLOAT_BYTES: Record<StoredFormat, number> = { f32: 4, f16: 2, bf16: 2 };

/** Bytes of a [rows, cols] matrix in a quantized format: data plus one u32 of scales per block (README). */
function quantBytes(format: QuantFormat, rows: number, cols: number): number {
  const blocks = Math.ceil(cols / QUANT_BLOCK[format]);
  return rows * (blocks * QUANT_BLOCK[format] * (format === 'int8' ? 1 : 0.5) + blocks * 4);
}

export interface LayerCost {
  /** Bytes of every weight of the layer on the executor. */
  weights: number;
  /** Bytes of weights one token reads: attention, router, norms, its top-k experts, the shared expert. */
  active: number;
  /** Sequence state at `context` tokens: the lightning state (f32), or the KV cache (in opts.kv). */
  state: number;
}

/** What layer i costs under these options. */
export function layerCost(c: ModelConfig, i: number, opts: PlanOptions = {}): LayerCost {
  const f = FLOAT_BYTES[opts.stored ?? 'bf16'];
  const q = opts.quantize;
  const big = (rows: number, cols: number) => (q ? quantBytes(q, rows, cols) : rows * cols * f);
  const H = c.hiddenSize;
  const qw = c.numHeads * c.headDim;
  const kvw = c.numKvHeads * c.headDim;
  const lightning = c.layerKinds[i] === 'lightning';
  const attention = lightning ? big(3 * qw, H) + big(qw, H) + qw * f + big(H, qw) : big(qw, H) + 2 * big(kvw, H) + big(H, qw);
  const small = 2 * H * f + c.numExperts * H * f; // the two norms, the router
  const expert = 2 * big(c.intermediateSize, H) + big(H, c.intermediateSize);
  const shared = c.sharedIntermediateSize > 0 ? 2 * big(c.sharedIntermediateSize, H) + big(H, c.sharedIntermediateSize) + H * f : 0;
  const context = opts.context ?? DEFAULTS.context;
  return {
    weights: attention + small + c.numExperts * expert + shared,
    active: attention + small + Math.min(c.expertsPerToken, c.numExperts) * expert + shared,
    state: lightning ? c.numHeads * c.headDim * c.headDim * 4 : 2 * kvRowBytes(c.numKvHeads, c.headDim, opts.kv ?? 'f16') * context,
  };
}

/** The embedding (with the first layer) and the final norm and head (with the last; its own table unless tied): not quantized. */
export function endsCost(c: ModelConfig, opts: PlanOptions = {}): { embed: number; head: number } {
  const f = FLOAT_BYTES[opts.stored ?? 'bf16'];
  const table = c.vocabSize * c.hiddenSize * f;
  return { embed: table, head: (c.tieWordEmbeddings ? 0 : table) + c.hiddenSize * f };
}

export interface Placement {
  executor: ExecutorSpec;
  layers: LayerRange | null;
  weights: number;
  state: number;
  /** Weights read per decoded token. */
  active: number;
  /** Predicted seconds per decoded token on this executor (active / bandwidth). */
  seconds: number;
}

export interface Plan {
  placements: Placement[];
  /** False when the executors' memory cannot hold the model: `shortfall` bytes are missing. */
  fits: boolean;
  shortfall: number;
  /** Seconds one token spends on the hops: a round trip to each remote, a copy into each further device. */
  hopSeconds: number;
  /** Predicted decode rate of one sequence: 1 / (every executor's seconds + the hops). */
  tokensPerSecond: number;
  totalWeights: number;
}

/**
 * Contiguous layer ranges, in executor order, that load the executors as evenly as their memory
 * allows: the smallest fill u (bytes held / memory, the same bound for every executor) at which a
 * greedy fill places every layer, found by bisection. When even u = 1 is not enough, the plan still
 * places every layer (overfilling) and says how much is missing.
 */
export function planPlacement(c: ModelConfig, executors: ExecutorSpec[], opts: PlanOptions = {}): Plan {
  if (executors.length === 0) throw new Error('a plan needs at least one executor');
  const costs = c.layerKinds.map((_, i) => layerCost(c, i, opts));
  const ends = endsCost(c, opts);
  const need = (l: LayerCost) => l.weights + l.state;
  const total = costs.reduce((s, l) => s + need(l), 0) + ends.embed + ends.head;
  // The embedding goes with layer 0, the head with the last layer; a tied head is the embedding
  // table itself, loaded again unless one executor holds both ends.
  const tied = c.tieWordEmbeddings;
  /** The executor of each layer when each executor is filled to at most u of its memory; null if they do not suffice. */
  const fill = (u: number): number[] | null => {
    const owner: number[] = [];
    const extraOf = (i: number, e: number) =>
      need(costs[i]) + (i === 0 ? ends.embed : 0) + (i === c.numLayers - 1 ? ends.head + (tied && i > 0 && e !== owner[0] ? ends.embed : 0) : 0);
    let e = 0;
    let used = 0;
    for (let i = 0; i < c.numLayers; i++) {
      // An executor too small for even this layer is left out.
      while (used + extraOf(i, e) > u * executors[e].bytes) {
        if (++e === executors.length) return null;
        used = 0;
      }
      owner.push(e);
      used += extraOf(i, e);
    }
    return owner;
  };
  let lo = 0;
  let hi = (2 * total) / Math.min(...executors.map((e) => e.bytes));
  for (let k = 0; k < 64; k++) {
    const mid = (lo + hi) / 2;
    if (fill(mid)) hi = mid;
    else lo = mid;
  }
  const owner = fill(hi)!;
  const placements: Placement[] = executors.map((executor) => ({ executor, layers: null, weights: 0, state: 0, active: 0, seconds: 0 }));
  const first = placements[owner[0]];
  first.weights += ends.embed;
  first.active += c.hiddenSize * FLOAT_BYTES[opts.stored ?? 'bf16']; // one row of the table a token
  owner.forEach((e, i) => {
    const p = placements[e];
    p.layers = p.layers ? { from: p.layers.from, to: i + 1 } : { from: i, to: i + 1 };
    p.weights += costs[i].weights;
    p.active += costs[i].active;
    p.state += costs[i].state;
  });
  const last = placements[owner[owner.length - 1]];
  // The head reads its whole table every token: the embedding itself when tied.
  last.weights += ends.head + (tied && last !== first ? ends.embed : 0);
  last.active += ends.head + (tied ? ends.embed : 0);
  let shortfall = 0;
  for (const p of placements) {
    shortfall += Math.max(0, p.weights + p.state - p.executor.bytes);
    p.seconds = p.active / p.executor.bandwidth;
  }
  // The coordinator relays the residual stream: a round trip to each remote executor, a copy
  // through the CPU into each local device after the first.
  const hidden = c.hiddenSize * 4;
  let hopSeconds = 0;
  placements
    .filter((p) => p.layers)
    .forEach((p, i) => {
      if (p.executor.kind === 'remote') hopSeconds += (opts.linkLatency ?? DEFAULTS.linkLatency) + (2 * hidden) / (opts.linkBandwidth ?? DEFAULTS.linkBandwidth);
      else if (i > 0) hopSeconds += opts.localHop ?? DEFAULTS.localHop;
    });
  const seconds = placements.reduce((s, p) => s + p.seconds, 0) + hopSeconds;
  return { placements, fits: shortfall === 0, shortfall, hopSeconds, tokensPerSecond: 1 / seconds, totalWeights: placements.reduce((s, p) => s + p.weights, 0) };
}

/** Layers split into `parts` contiguous ranges of about equal weight bytes (local devices of one load). */
export function splitLayers(c: ModelConfig, range: LayerRange, parts: number, opts: PlanOptions = {}): LayerRange[] {
  const n = range.to - range.from;
  const k = Math.max(1, Math.min(parts, n));
  const w = Array.from({ length: n }, (_, j) => layerCost(c, range.from + j, opts).weights);
  const total = w.reduce((a, b) => a + b, 0);
  const out: LayerRange[] = [];
  let from = range.from;
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += w[j];
    const left = n - j - 1; // layers after this one
    const partsLeft = k - out.length - 1; // ranges still to start after this one
    if (partsLeft > 0 && (acc >= (total * (out.length + 1)) / k || left === partsLeft)) {
      out.push({ from, to: range.from + j + 1 });
      from = range.from + j + 1;
    }
  }
  out.push({ from, to: range.to });
  return out;
}
