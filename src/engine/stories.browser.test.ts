import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { maxAbsDiff } from '../gpu/testing';
import { EXACT, sharedJson, sharedSource } from './fixtures';
import { Model } from './model';

// Real trained models must tell the same stories: 64 greedy tokens per prompt, each weight type against
// its own expected entry (computed from that type's weights widened to f32).
const cases = [
  { model: 'stories260k', dtype: 'float32', dir: '' },
  { model: 'stories260k', dtype: 'float16', dir: '/fp16' },
  { model: 'stories260k', dtype: 'bfloat16', dir: '/bf16' },
  { model: 'tiny-hybrid-stories', dtype: 'float32', dir: '' },
  { model: 'tiny-hybrid-stories', dtype: 'bfloat16', dir: '/bf16' },
];

for (const { model: name, dtype, dir } of cases) {
  describe(`${name} ${dtype}`, async () => {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const n: number = expected.n_new;
    let model: Model | undefined;
    for (const p of expected.dtypes[dtype].prompts) {
      it(`"${p.prompt}"`, async () => {
        model ??= await Model.load(sharedSource(`models/${name}${dir}`), await requestGpuDevice(), EXACT);
        model.reset();
        const first = await model.forward(p.input_ids, 'last');
        const d = maxAbsDiff(first, p.first_step_logits);
        console.log(`${name} ${dtype} "${p.prompt}": first-step max|Δlogit| = ${d.toExponential(3)}`);
        expect(d).toBeLessThan(2e-3);
        model.reset();
        const got = [await model.nextToken(p.input_ids)];
        while (got.length < n) got.push(await model.nextToken([got[got.length - 1]]));
        expect(got).toEqual(p.greedy_ids);
      });
    }
  });
}
