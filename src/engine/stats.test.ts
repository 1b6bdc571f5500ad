/**
 * Model.stats() on real Dawn devices: memory by kind against sizes worked out from the config, and the
 * expert cache's per-layer, per-expert counters against what the routing must give (k uses a token a
 * layer; every expert used is loaded once into a cache that holds them all). A sharded model's merged
 * stats equal one device's.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { nodeGpuDevice } from '../node/gpu';
import { nodeSource } from '../node/source';
import { loadSharded } from '../shard/coordinator';
import { kvRowBytes } from '../gpu/attention';
import { Model, type ModelOptions } from './model';
import type { LanguageModel } from './languageModel';
import type { ModelStats } from './stats';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');

/** Feeds ids one at a time (each a decode step: k expert uses a layer), then `more` greedy tokens the same way. */
async function feed(model: LanguageModel, ids: number[], more: number): Promise<number> {
  await model.reset();
  let next = 0;
  for (const id of ids) next = await model.nextToken([id]);
  for (let i = 0; i < more; i++) next = await model.nextToken([next]);
  return ids.length + more;
}

const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);

for (const [folder, ids] of [
  ['models/tiny-hybrid-stories', [1, 300, 45, 200, 17, 99, 3]],
  ['golden/tiny_odd_heads_bf16', [5, 9, 2, 77, 31]],
] as const) {
  describe(`stats of ${folder}`, () => {
    let ckpt: Checkpoint;
    const models: { destroy(): unknown }[] = [];
    const devices: GPUDevice[] = [];
    beforeAll(async () => {
      ckpt = await openCheckpoint(nodeSource(path.join(shared, folder)));
    });
    afterAll(async () => {
      for (const m of models) await m.destroy();
      for (const d of devices) d.destroy();
    });
    const load = async (opts: ModelOptions) => {
      const device = await nodeGpuDevice();
      devices.push(device);
      const m = await Model.fromCheckpoint(ckpt, device, opts);
      models.push(m);
      return m;
    };

    test('memory by kind, from the config', async () => {
      const c = ckpt.config;
      const m = await load({ expertBudget: 0.5 });
      const n = await feed(m, [...ids], 3);
      const s = m.stats();
      const slots = Math.min(c.numExperts, Math.max(c.expertsPerToken, Math.round(0.5 * c.numExperts)));
      const expertBytes = 3 * c.hiddenSize * c.intermediateSize * (ckpt.tensors.get('model.layers.0.block_sparse_moe.experts.0.w1.weight')!.dtype === 'F32' ? 4 : 2);
      expect(s.memory.expertCache).toBeGreaterThanOrEqual(c.numLayers * slots * expertBytes);
      expect(s.memory.expertCache).toBeLessThan(c.numLayers * slots * expertBytes * 1.1); // padding of weight images only
      const lightning = c.layerKinds.filter((k) => k === 'lightning').length;
      expect(s.memory.state).toBe(lightning * c.numHeads * c.headDim * c.headDim * 4);
      const pages = Math.ceil(n / m.pageTokens);
      expect(s.memory.kv).toBe((c.numLayers - lightning) * 2 * pages * m.pageTokens * kvRowBytes(c.numKvHeads, c.headDim, m.gpu.choices.kvFormat));
      const parts = s.memory.weights + s.memory.expertCache + s.memory.scratch + s.memory.state + s.memory.kv;
      expect(parts).toBeLessThanOrEqual(s.memory.total);
      expect(s.memory.total).toBeLessThanOrEqual(s.memory.peak);
      expect(s.placement).toEqual([{ from: 0, to: c.numLayers, where: 'device 0' }]);
    });

    test('every expert resident: no cache stats', async () => {
      const m = await load({});
      await feed(m, [...ids], 1);
      const s = m.stats();
      expect(s.experts).toBeNull();
      expect(s.memory.expertCache).toBe(0);
    });

    test('per-layer expert counters: k uses a token, each expert loaded once into a cache that holds all', async () => {
      const c = ckpt.config;
      const m = await load({ expertBudget: 1 });
      const n = await feed(m, [...ids], 4);
      const e = m.stats().experts!;
      expect(e.slotsPerLayer).toBe(c.numExperts);
      for (let l = 0; l < c.numLayers; l++) {
        const uses = e.layerHits[l].map((h, x) => h + e.layerMisses[l][x]);
        expect(sum(uses)).toBe(n * c.expertsPerToken);
        // A cache of every expert misses each used expert once, and then always hits.
        expect(e.layerMisses[l]).toEqual(uses.map((u) => (u > 0 ? 1 : 0)));
        expect(e.resident[l]).toEqual(uses.map((u) => u > 0));
      }
      expect(e.hits).toBe(sum(e.layerHits.flat()));
      expect(e.misses).toBe(sum(e.layerMisses.flat()));
    });

    test('a half-size cache: counters add up, at most its slots resident; 2 devices merge to the same', async () => {
      const c = ckpt.config;
      const m = await load({ expertBudget: 0.5 });
      const n = await feed(m, [...ids], 4);
      const one = m.stats();
      const e = one.experts!;
      for (let l = 0; l < c.numLayers; l++) {
        expect(sum(e.layerHits[l]) + sum(e.layerMisses[l])).toBe(n * c.expertsPerToken);
        expect(e.resident[l].filter(Boolean).length).toBeLessThanOrEqual(e.slotsPerLayer);
        e.resident[l].forEach((r, x) => r && expect(e.layerMisses[l][x]).toBeGreaterThan(0));
      }
      expect(e.bytesStreamed).toBeGreaterThan(0);

      const sharded = await loadSharded(ckpt, { devices: 2, model: { expertBudget: 0.5 }, getDevice: nodeGpuDevice });
      models.push(sharded);
      await feed(sharded, [...ids], 4);
      const two: ModelStats = sharded.stats();
      expect(two.placement.map((p) => p.where)).toEqual(['device 0', 'device 1']);
      expect(two.placement[0].from).toBe(0);
      expect(two.placement[1].to).toBe(c.numLayers);
      expect(two.placement[0].to).toBe(two.placement[1].from);
      expect(two.experts!.layerHits).toEqual(e.layerHits);
      expect(two.experts!.layerMisses).toEqual(e.layerMisses);
      expect(two.experts!.resident).toEqual(e.resident);
      expect(two.memory.expertCache).toBe(one.memory.expertCache);
      expect(two.memory.state).toBe(one.memory.state);
      expect(two.memory.kv).toBe(one.memory.kv);
    });
  });
}
