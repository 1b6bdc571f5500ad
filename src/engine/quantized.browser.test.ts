import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { loadTokenizer } from '../text/tokenizer';
import { sharedJson, sharedSource } from './fixtures';
import { Model } from './model';
import { perplexity } from './perplexity';

// int8 and int4 against f32 on the trained models: greedy agreement over the expected prompts, and
// perplexity of the expected texts and of texts written for this test (not in expected.json).
const UNSEEN = [
  'Tom had a red kite. Every morning he ran to the hill with his dog and let the kite fly high in the wind.',
  'The little cat was sad because it lost its ball. A kind bird helped the cat look for the ball in the garden.',
];

for (const name of ['stories260k', 'tiny-hybrid-stories']) {
  describe(name, async () => {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const prompts = expected.dtypes.float32.prompts as { prompt: string; input_ids: number[]; greedy_ids: number[] }[];
    const tokenizer = (await loadTokenizer(sharedSource(`models/${name}`)))!;
    const texts = [...prompts.map((p) => [...p.input_ids, ...p.greedy_ids]), ...UNSEEN.map((t) => tokenizer.encode(t))];
    const ppl = async (model: Model) => {
      const out = [];
      for (const ids of texts) out.push(await perplexity(model, ids));
      return out;
    };
    const f32 = await Model.load(sharedSource(`models/${name}`), await requestGpuDevice());
    const base = await ppl(f32);
    f32.destroy();

    // The issue's bar: int8 tells stories260k's stories (≥ 4 of 5) and stays within 1% perplexity, int4
    // within 10%; greedy agreement elsewhere is reported, not required (one flipped near-tie changes a story).
    for (const [quantize, agree, pplTol] of [['int8', name === 'stories260k' ? 4 : 0, 0.01], ['int4', 0, 0.1]] as const)
      it(`${quantize}: perplexity within ${pplTol * 100}% of f32's on every text${agree ? `; greedy ids equal f32's on ≥ ${agree} of ${prompts.length} prompts` : ''}`, async () => {
        const model = await Model.load(sharedSource(`models/${name}`), await requestGpuDevice(), { quantize });
        let same = 0;
        for (const p of prompts) {
          model.reset();
          const got = await model.greedyTokens(p.input_ids, p.greedy_ids.length);
          if (got.join() === p.greedy_ids.join()) same++;
        }
        const q = await ppl(model);
        model.destroy();
        const ratios = q.map((v, i) => v / base[i]);
        console.log(`${name} ${quantize}: greedy = f32 on ${same}/${prompts.length} prompts; perplexity ratio to f32 ${ratios.map((r) => r.toFixed(4)).join(' ')} (last ${UNSEEN.length}: unseen texts)`);
        expect(same).toBeGreaterThanOrEqual(agree);
        for (const r of ratios) expect(Math.abs(r - 1)).toBeLessThanOrEqual(pplTol);
      });
  });
}

it('int4 experts streamed through the expert cache (quantized as they load) give the resident int4 logits', async () => {
  const expected = await sharedJson('models/tiny-hybrid-stories/expected.json');
  const p = expected.dtypes.float32.prompts[1];
  const ids = [...p.input_ids, ...p.greedy_ids.slice(0, 12)];
  const logits = async (opts: object) => {
    const m = await Model.load(sharedSource('models/tiny-hybrid-stories'), await requestGpuDevice(), { quantize: 'int4', ...opts });
    const out = await m.forward(ids, 'all');
    m.destroy();
    return out;
  };
  const resident = await logits({});
  const streamed = await logits({ expertBudget: 0.25, prefetch: true });
  expect(Array.from(streamed)).toEqual(Array.from(resident));
});
