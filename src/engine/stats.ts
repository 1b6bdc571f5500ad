/**
 * What a loaded model is doing with its GPUs: memory by kind, the expert cache's hits per layer and
 * expert, and where each layer runs. Read by Engine.stats(); cheap (counters only, no GPU work), so a
 * page can poll it while a generation runs.
 */
import type { ExpertCacheStats } from '../store/expertCache';

export interface MemoryStats {
  /** Resident weights (with every expert when none are streamed). */
  weights: number;
  /** The expert cache's slots (streamed experts). */
  expertCache: number;
  /** Activations, attention splits, decay tables. */
  scratch: number;
  /** Lightning states of every sequence. */
  state: number;
  /** KV pages of every sequence's softmax layers. */
  kv: number;
  /** Every buffer the engine's local devices hold now, and the most they ever held. */
  total: number;
  peak: number;
}

export interface ExpertStats extends ExpertCacheStats {
  /** Experts of a layer the cache holds at once. */
  slotsPerLayer: number;
  /** [layer][expert]: uses the cache served (hits) or had to load (misses). Empty rows: layers run elsewhere. */
  layerHits: number[][];
  layerMisses: number[][];
  /** [layer][expert]: resident in the cache now. */
  resident: boolean[][];
}

export interface Placement {
  /** Layers from..to-1 run on `where`: "device 0", or a shard's URL. */
  from: number;
  to: number;
  where: string;
}

export interface ModelStats {
  memory: MemoryStats;
  /** Null when every expert is resident (no expert budget): there is no cache to hit or miss. */
  experts: ExpertStats | null;
  placement: Placement[];
}

/** Stats of model parts side by side (a sharded model's local parts), as one model's. */
export function mergeStats(parts: ModelStats[], placement: Placement[]): ModelStats {
  const sum = (f: (m: MemoryStats) => number) => parts.reduce((s, p) => s + f(p.memory), 0);
  const memory: MemoryStats = {
    weights: sum((m) => m.weights),
    expertCache: sum((m) => m.expertCache),
    scratch: sum((m) => m.scratch),
    state: sum((m) => m.state),
    kv: sum((m) => m.kv),
    total: sum((m) => m.total),
    peak: sum((m) => m.peak),
  };
  const cached = parts.map((p) => p.experts).filter((e): e is ExpertStats => e !== null);
  if (!cached.length) return { memory, experts: null, placement };
  // Each part fills the rows of its own layers; the others are empty.
  const rows = <T>(f: (e: ExpertStats) => T[][]) => cached.map(f).reduce((a, b) => a.map((row, l) => (row.length ? row : b[l])));
  const total = (k: keyof ExpertCacheStats) => cached.reduce((s, e) => s + e[k], 0);
  return {
    memory,
    placement,
    experts: {
      hits: total('hits'),
      misses: total('misses'),
      prefetchHits: total('prefetchHits'),
      predicted: total('predicted'),
      predictedUsed: total('predictedUsed'),
      bytesStreamed: total('bytesStreamed'),
      stallMs: total('stallMs'),
      slotsPerLayer: cached[0].slotsPerLayer,
      layerHits: rows((e) => e.layerHits),
      layerMisses: rows((e) => e.layerMisses),
      resident: rows((e) => e.resident),
    },
  };
}
