import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { maxAbsDiff } from '../gpu/testing';
import { EXPERT_SETTINGS, sharedBytes, sharedJson, sharedSource } from '../engine/fixtures';
import { Model } from '../engine/model';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint';

describe('stories260k greedy continuations are the same with its expert streamed', () => {
  it('all five prompts, 64 tokens', async () => {
    const expected = await sharedJson('models/stories260k/expected.json');
    const ckpt = await openCheckpoint(sharedSource('models/stories260k'));
    // One expert a layer: every budget keeps it in the layer's one slot, so one budget is every budget.
    const model = await Model.fromCheckpoint(ckpt, await requestGpuDevice(), { expertBudget: 0.25, prefetch: 'next' });
    for (const p of expected.dtypes.float32.prompts) {
      model.reset();
      const got = [await model.nextToken(p.input_ids)];
      while (got.length < 64) got.push(await model.nextToken([got[got.length - 1]]));
      expect(got).toEqual(p.greedy_ids);
    }
    model.destroy();
  });
});

describe('tiny-hybrid-stories greedy continuations are the same at every expert budget', () => {
  it('"Once upon a time", 32 tokens', async () => {
    const expected = await sharedJson('models/tiny-hybrid-stories/expected.json');
    const p = expected.dtypes.float32.prompts[0];
    const ckpt = await openCheckpoint(sharedSource('models/tiny-hybrid-stories'));
    for (const [budget, prefetch] of EXPERT_SETTINGS) {
      const model = await Model.fromCheckpoint(ckpt, await requestGpuDevice(), { expertBudget: budget, prefetch });
      const got = [await model.nextToken(p.input_ids)];
      while (got.length < 32) got.push(await model.nextToken([got[got.length - 1]]));
      expect(got).toEqual(p.greedy_ids.slice(0, 32));
      const s = model.experts!.stats;
      const hitRate = s.hits / (s.hits + s.misses);
      console.log(`budget ${budget} prefetch ${prefetch}: hit rate ${hitRate.toFixed(3)}, prefetch precision ${(s.predictedUsed / Math.max(1, s.predicted)).toFixed(3)}, streamed ${(s.bytesStreamed / 2 ** 20).toFixed(1)} MiB`);
      if (budget === 1 && !prefetch) expect(s.misses).toBe(8 * 8); // each expert of each layer loaded once
      model.destroy();
    }
  });
});

describe('a failed expert read', () => {
  it('is reported with the tensor name and leaves the cache consistent', async () => {
    const base = await openCheckpoint(sharedSource('golden/tiny_pow2_f32'));
    let fail = true;
    const flaky: Checkpoint = {
      ...base,
      tensors: base.tensors,
      config: base.config,
      read: async (name, o, n) => {
        if (fail && name.includes('layers.2.block_sparse_moe.experts')) {
          fail = false;
          throw new Error(`${name}: read failed (simulated)`);
        }
        return base.read(name, o, n);
      },
    };
    const manifest = await sharedJson('golden/tiny_pow2_f32/manifest.json');
    const model = await Model.fromCheckpoint(flaky, await requestGpuDevice(), { expertBudget: 0.5 });
    await expect(model.forward(manifest.input_ids.slice(0, 20), 'last')).rejects.toThrow(/layers\.2\.block_sparse_moe\.experts\.\d\.w\d\.weight: read failed/);
    await expect(model.forward([1], 'last')).rejects.toThrow(/call reset\(\) first/);
    model.reset();
    const golden = new Float32Array(await sharedBytes('golden/tiny_pow2_f32/logits.bin'));
    const V = manifest.normalized_config.vocab_size;
    const got = await model.forward(manifest.input_ids.slice(0, 20), 'last');
    expect(maxAbsDiff(got, golden.subarray(19 * V, 20 * V))).toBeLessThan(2e-3);
    model.destroy();
  });
});
