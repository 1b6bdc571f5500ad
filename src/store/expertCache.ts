/**
 * GPU expert cache: a fixed number of expert slots per layer, filled on demand from the checkpoint
 * (IndexedDB, disk or network) and evicted by a policy. Dense weights stay resident elsewhere.
 *
 * Ordering: a slot is only rewritten after the work that read its previous expert was submitted, and
 * queue.writeBuffer runs after every earlier submit, so the GPU never sees a half-swapped expert.
 */
import type { LayerRange } from '../model/config';
import { expertTensorNames, type Checkpoint } from '../model/checkpoint';
import type { Gpu } from '../gpu/gpu';
import { matrixPart, writeSlice, type GpuTensor } from '../gpu/tensor';
import { imageLayout, type ImageSlice } from '../gpu/weightImage';
import { imageOf, storedMatrix } from '../engine/matrices';
import type { ExpertWeights } from '../engine/weights';
import { ALONE } from '../gpu/expertSwiglu';
import type { QuantFormat } from '../model/quantize';
import type { ExpertStats } from '../engine/stats';

export type EvictionPolicy = 'lru' | 'lfu';

export interface ExpertCacheOptions {
  /** Fraction of each layer's experts kept resident, in (0, 1]; at least top_k slots. */
  budget: number;
  policy?: EvictionPolicy;
  /** Experts are quantized to this format as they are loaded (on the CPU, before the upload). */
  quantize?: QuantFormat;
  /** Only these layers get slots (a model part, src/shard); default all. */
  layers?: LayerRange;
}

export interface ExpertCacheStats {
  /** Expert uses served by a resident (or already loading) expert. */
  hits: number;
  misses: number;
  /** Uses served by an expert that a prefetch brought in. */
  prefetchHits: number;
  /** Predicted experts / predicted experts that were then used (precision = recall at equal k). */
  predicted: number;
  predictedUsed: number;
  bytesStreamed: number;
  /** Time spent waiting for expert bytes when they were needed. */
  stallMs: number;
}

interface Slot {
  expert: number; // -1 when empty
  weights: ExpertWeights;
  loading: Promise<void> | null;
  lastUse: number;
  uses: number;
  prefetched: boolean; // loaded by a prefetch and not used since
}

export class ExpertCache {
  readonly slotsPerLayer: number;
  readonly stats: ExpertCacheStats = { hits: 0, misses: 0, prefetchHits: 0, predicted: 0, predictedUsed: 0, bytesStreamed: 0, stallMs: 0 };
  private readonly layers: Slot[][];
  private readonly policy: EvictionPolicy;
  private readonly quant: QuantFormat | undefined;
  private tick = 0;
  private readonly pendingPredictions = new Map<number, Set<number>>();
  /** [layer][expert] hits and misses; rows of layers this cache does not hold are empty. */
  private readonly layerHits: number[][];
  private readonly layerMisses: number[][];

  constructor(
    private readonly gpu: Gpu,
    private readonly ckpt: Checkpoint,
    opts: ExpertCacheOptions,
  ) {
    const c = ckpt.config;
    if (!(opts.budget > 0 && opts.budget <= 1)) throw new RangeError(`expert budget must be in (0, 1], got ${opts.budget}`);
    this.policy = opts.policy ?? 'lru';
    this.quant = opts.quantize;
    this.slotsPerLayer = Math.min(c.numExperts, Math.max(c.expertsPerToken, Math.round(opts.budget * c.numExperts)));
    const { from, to } = opts.layers ?? { from: 0, to: c.numLayers };
    this.layers = c.layerKinds.map((_, layer) =>
      Array.from({ length: layer >= from && layer < to ? this.slotsPerLayer : 0 }, (_, s) => {
        const [w1, w3, w2] = expertTensorNames(layer, 0).map((name) => this.slotTensor(name, `layer ${layer} slot ${s}`));
        return { expert: -1, weights: { w1, w3, w2, stack: ALONE }, loading: null, lastUse: 0, uses: 0, prefetched: false };
      }),
    );
    const counts = () => this.layers.map((slots) => new Array<number>(slots.length ? c.numExperts : 0).fill(0));
    this.layerHits = counts();
    this.layerMisses = counts();
  }

  /** GPU bytes of the slots. */
  get bytes(): number {
    return this.layers.flat().reduce((s, slot) => s + slot.weights.w1.parts[0].buffer.size + slot.weights.w3.parts[0].buffer.size + slot.weights.w2.parts[0].buffer.size, 0);
  }

  /** The counters now, with hits per layer and expert and what is resident (copies: the caller may keep them). */
  snapshot(): ExpertStats {
    return {
      ...this.stats,
      slotsPerLayer: this.slotsPerLayer,
      layerHits: this.layerHits.map((r) => [...r]),
      layerMisses: this.layerMisses.map((r) => [...r]),
      resident: this.layers.map((slots, l) => Array.from(this.layerHits[l], (_, e) => slots.some((s) => s.expert === e && !s.loading))),
    };
  }


  /**
   * Makes `experts` (at most slotsPerLayer of them) of `layer` resident and returns their weights, in the
   * same order. Misses evict other experts of the layer.
   */
  async acquire(layer: number, experts: number[]): Promise<ExpertWeights[]> {
    if (experts.length > this.slotsPerLayer) throw new Error(`${experts.length} experts do not fit ${this.slotsPerLayer} slots`);
    const slots = this.layers[layer];
    const predicted = this.pendingPredictions.get(layer);
    if (predicted) {
      this.pendingPredictions.delete(layer);
      for (const e of experts) if (predicted.has(e)) this.stats.predictedUsed++;
    }
    const chosen: Slot[] = [];
    for (const e of experts) {
      let slot = slots.find((s) => s.expert === e);
      if (slot) {
        this.stats.hits++;
        this.layerHits[layer][e]++;
        if (slot.prefetched) this.stats.prefetchHits++;
      } else {
        this.stats.misses++;
        this.layerMisses[layer][e]++;
        slot = await this.victim(slots, [...chosen, ...slots.filter((s) => experts.includes(s.expert))]);
        this.load(layer, slot, e);
      }
      slot.prefetched = false;
      slot.lastUse = ++this.tick;
      slot.uses++;
      chosen.push(slot);
    }
    const t0 = performance.now();
    const waits = chosen.map((s) => s.loading).filter((p) => p);
    if (waits.length) {
      await Promise.all(waits);
      this.stats.stallMs += performance.now() - t0;
    }
    return chosen.map((s) => s.weights);
  }

  /** Starts loading experts a router predicts for `layer`, without waiting; never evicts a prediction of this call. */
  prefetch(layer: number, experts: number[]): void {
    const want = experts.slice(0, this.slotsPerLayer);
    this.pendingPredictions.set(layer, new Set(want));
    this.stats.predicted += want.length;
    const slots = this.layers[layer];
    const keep = slots.filter((s) => want.includes(s.expert));
    for (const e of want) {
      if (slots.some((s) => s.expert === e)) continue;
      const free = slots.filter((s) => !s.loading && !keep.includes(s));
      if (!free.length) return;
      const slot = this.pick(free);
      keep.push(slot);
      this.load(layer, slot, e);
      slot.prefetched = true;
    }
  }

  destroy(): void {
    for (const slot of this.layers.flat()) for (const t of [slot.weights.w1, slot.weights.w3, slot.weights.w2]) t.parts[0].buffer.destroy();
  }

  private slotTensor(name: string, label: string): GpuTensor {
    const m = storedMatrix(this.ckpt, name, this.quant);
    const { part } = matrixPart(this.gpu, `${label} ${name.slice(name.lastIndexOf('.w') + 1)}`, m.format, 0, m.shape[0], m.shape[1]);
    return { name: label, dtype: m.format, shape: m.shape, parts: [part] };
  }

  /** A slot to reuse, never one in `busy`; waits for a load in flight rather than tearing it. */
  private async victim(slots: Slot[], busy: Slot[]): Promise<Slot> {
    const free = slots.filter((s) => !busy.includes(s));
    const slot = free.find((s) => s.expert < 0) ?? this.pick(free);
    if (slot.loading) await slot.loading;
    return slot;
  }

  private pick(candidates: Slot[]): Slot {
    const empty = candidates.find((s) => s.expert < 0);
    if (empty) return empty;
    const score = this.policy === 'lfu' ? (s: Slot) => s.uses * 1e9 + s.lastUse : (s: Slot) => s.lastUse;
    return candidates.reduce((a, b) => (score(b) < score(a) ? b : a));
  }

  private load(layer: number, slot: Slot, e: number): void {
    slot.expert = e;
    slot.uses = 0;
    const names = expertTensorNames(layer, e);
    const targets = [slot.weights.w1, slot.weights.w3, slot.weights.w2];
    const done = Promise.all(
      names.map(async (name, i) => {
        const m = storedMatrix(this.ckpt, name, this.quant);
        const t = targets[i];
        if (m.format !== t.dtype || m.shape.join() !== t.shape.join() || m.bytes !== storedMatrix(this.ckpt, expertTensorNames(layer, 0)[i], this.quant).bytes)
          throw new Error(`${name}: format ${m.format} or shape [${m.shape}] differs from expert 0 of its layer; the expert cache needs them equal`);
        const slice = imageOf(await m.rows(0, m.shape[0]), m.shape[0], m.shape[1], this.gpu.choices.tileRows, name);
        this.stats.bytesStreamed += m.bytes;
        return slice;
      }),
    ).then((parts: ImageSlice[]) => {
      // Written together, after all three arrived, so a slot never mixes two experts.
      parts.forEach((slice, i) => writeSlice(this.gpu, targets[i].parts[0].buffer, imageLayout(targets[i].dtype, ...(targets[i].shape as [number, number])), 0, slice));
      targets.forEach((t, i) => (t.name = names[i]));
    });
    slot.loading = done.then(
      () => {
        if (slot.loading === loading) slot.loading = null;
      },
      (err) => {
        slot.expert = -1; // a failed load leaves an empty slot, never a stale one
        slot.loading = null;
        throw err;
      },
    );
    const loading = slot.loading;
    loading.catch(() => {}); // surfaced by acquire
  }
}
