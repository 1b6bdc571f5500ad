import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { maxAbsDiff } from '../gpu/testing';
import { EXACT, sharedBytes, sharedJson, sharedSource } from './fixtures';
import { Model } from './model';

// ../shared/golden: tiny MiniMax checkpoints with float64 reference logits (tolerance: fp32 ≤ 2e-3).
for (const name of ['tiny_pow2_f32', 'tiny_odd_heads_bf16']) {
  describe(`golden ${name}`, async () => {
    const dir = `golden/${name}`;
    const manifest = await sharedJson(`${dir}/manifest.json`);
    const ids: number[] = manifest.input_ids;
    const V: number = manifest.normalized_config.vocab_size;
    const logits = new Float32Array(await sharedBytes(`${dir}/logits.bin`));
    const tol: number = manifest.tolerance.fp32_runtime.logits_max_abs_diff;
    const load = async (opts = {}) => Model.load(sharedSource(dir), await requestGpuDevice(), { ...EXACT, ...opts });

    it('prefill logits of every position', async () => {
      const model = await load();
      const got = await model.forward(ids, 'all');
      const d = maxAbsDiff(got, logits);
      console.log(`${name} prefill max|Δlogit| = ${d.toExponential(3)}`);
      expect(d).toBeLessThan(tol);
      model.destroy();
    });

    it('prefill then token-by-token decode matches every row', async () => {
      const model = await load();
      const P: number = manifest.decode_test.prefill_len;
      const rows = [await model.forward(ids.slice(0, P), 'all')];
      for (let t = P; t < ids.length; t++) rows.push(await model.forward([ids[t]], 'last'));
      const got = new Float32Array(ids.length * V);
      let o = 0;
      for (const r of rows) {
        got.set(r, o);
        o += r.length;
      }
      const d = maxAbsDiff(got, logits);
      console.log(`${name} prefill ${P} + decode max|Δlogit| = ${d.toExponential(3)}`);
      expect(d).toBeLessThan(tol);
      model.destroy();
    });

    it('greedy generation: ids exact, step logits within tolerance', async () => {
      // Small blocks, small prefill chunks and split weights must not change anything.
      const model = await load({ lightningBlock: 17, prefillChunk: 100, maxTensorPartBytes: 16384 });
      const want: number[] = manifest.greedy.greedy_ids;
      const stepLogits = new Float32Array(await sharedBytes(`${dir}/greedy_logits.bin`));
      const got: number[] = [];
      let row = await model.forward(ids, 'last');
      let d = 0;
      for (let j = 0; j < want.length; j++) {
        d = Math.max(d, maxAbsDiff(row, stepLogits.subarray(j * V, (j + 1) * V)));
        let best = 0;
        for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
        got.push(best);
        row = await model.forward([best], 'last');
      }
      console.log(`${name} greedy step max|Δlogit| = ${d.toExponential(3)}`);
      expect(got).toEqual(want);
      expect(d).toBeLessThan(tol);
      model.destroy();
    });

    it('nextToken (argmax on the GPU) gives the greedy ids', async () => {
      const model = await load();
      const want: number[] = manifest.greedy.greedy_ids;
      const got = [await model.nextToken(ids)];
      while (got.length < want.length) got.push(await model.nextToken([got[got.length - 1]]));
      expect(got).toEqual(want);
      model.destroy();
    });
  });
}
