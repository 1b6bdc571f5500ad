import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { maxAbsDiff } from '../gpu/testing';
import { fetchSource } from '../model/source';
import { EXACT } from './fixtures';
import { Model } from './model';

// Cases the shared golden files do not cover, made with the spec's NumPy reference (float64) by
// scripts/make-extra-golden.py: an optional shared expert, tied embeddings, pre-norm, 5 heads with one
// kv head, top-3 of 7 experts, F16 weights; and a config with only the transformers-port field names.
for (const name of ['shared_expert_tied_f16', 'hf_names_bf16']) {
  describe(`extra golden ${name}`, () => {
    const dir = `/src/engine/golden-extra/${name}/`;
    it('prefill logits within fp32 tolerance, greedy ids exact', async () => {
      const bytes = async (f: string) => (await fetch(dir + f)).arrayBuffer();
      const ids = Array.from(new Int32Array(await bytes('input_ids.bin')));
      const want = new Float32Array(await bytes('logits.bin'));
      const greedy: number[] = (await (await fetch(dir + 'greedy.json')).json()).greedy_ids;
      const model = await Model.load(fetchSource(dir), await requestGpuDevice(), { ...EXACT, lightningBlock: 16, prefillChunk: 40 });
      const got = await model.forward(ids, 'all');
      const d = maxAbsDiff(got, want);
      console.log(`${name}: max|Δlogit| = ${d.toExponential(3)}`);
      expect(d).toBeLessThan(2e-3);
      model.reset();
      const out = [await model.nextToken(ids)];
      while (out.length < greedy.length) out.push(await model.nextToken([out[out.length - 1]]));
      expect(out).toEqual(greedy);
      model.destroy();
    });
  });
}
