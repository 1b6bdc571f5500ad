import { expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { sharedJson, sharedSource } from './fixtures';
import { Model } from './model';
import { generate } from './generation';
import { loadTokenizer } from '../text/tokenizer';

// A greedy chain (each step's argmax feeding the next embedding on the GPU) against one nextToken
// call a token, on both trained models; then the state goes on as if the chain had been token by token.
// Prefill chunks of 4 rewrite the rope table mid-chain (the stories tests decode with the default chunk).
for (const name of ['stories260k', 'tiny-hybrid-stories'])
  it(`${name}, prefill chunks of 4: greedyTokens(prompt, 13) = 13 nextToken calls, and the state after it is theirs`, async () => {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const p = expected.dtypes.float32.prompts[1];
    const model = await Model.load(sharedSource(`models/${name}`), await requestGpuDevice(), { prefillChunk: 4 });
    const one = [await model.nextToken(p.input_ids)];
    while (one.length < 13) one.push(await model.nextToken([one[one.length - 1]]));
    const after = await model.nextToken([one[12]]);
    model.reset();
    const chained = await model.greedyTokens(p.input_ids, 13);
    expect(chained).toEqual(one);
    expect(chained).toEqual(p.greedy_ids.slice(0, 13));
    expect(await model.greedyTokens([chained[12]], 1)).toEqual([after]);
    // chained again from there: positions and KV caches carry on
    model.reset();
    const first = await model.greedyTokens(p.input_ids, 6);
    const second = await model.greedyTokens([first[5]], 7);
    expect([...first, ...second]).toEqual(one);
    model.destroy();
  });

// Chains run ahead: the next chain is queued before the caller has read this one. Both trained models
// (stories260k softmax only, tiny-hybrid-stories with lightning states), prefill chunks of 3 so a chain
// of 5 rewrites the rope table mid-chain.
for (const name of ['stories260k', 'tiny-hybrid-stories'])
  it(`${name}: greedyChains gives greedyTokens' tokens in chains of 1, then 5; stopping early leaves the model usable after reset()`, async () => {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const p = expected.dtypes.float32.prompts[2];
    const model = await Model.load(sharedSource(`models/${name}`), await requestGpuDevice(), { prefillChunk: 3 });
    const want = p.greedy_ids.slice(0, 17);
    const chains: number[][] = [];
    for await (const c of model.greedyChains(p.input_ids, 17, 5)) chains.push(c);
    expect(chains.map((c) => c.length)).toEqual([1, 5, 5, 5, 1]);
    expect(chains.flat()).toEqual(want);
    // Every chain taken: nothing ran ahead, so the state holds all but the last token and goes on.
    expect(await model.greedyTokens([want[16]], 2)).toEqual(p.greedy_ids.slice(17, 19));
    // A break after the second chain, with the third queued: the model is free again, and after reset()
    // decodes the same tokens.
    model.reset();
    const stream = model.greedyChains(p.input_ids, 17, 5);
    await stream.next();
    await expect(model.greedyTokens([1], 1)).rejects.toThrow(/must not overlap/);
    expect(() => model.reset()).toThrow(/during a forward/);
    expect((await stream.next()).value).toEqual(want.slice(1, 6));
    await stream.return();
    model.reset();
    expect(await model.greedyTokens(p.input_ids, 6)).toEqual(want.slice(0, 6));
    // Chains of one, and a total of one (nothing recorded ahead).
    model.reset();
    const ones: number[][] = [];
    for await (const c of model.greedyChains(p.input_ids, 3, 1)) ones.push(c);
    expect(ones).toEqual(want.slice(0, 3).map((t: number) => [t]));
    model.reset();
    const single: number[][] = [];
    for await (const c of model.greedyChains(p.input_ids, 1, 5)) single.push(c);
    expect(single).toEqual([want.slice(0, 1)]);
    expect(await model.greedyTokens([want[0]], 1)).toEqual([want[1]]);
    await expect(model.greedyChains(p.input_ids, 0, 5).next()).rejects.toThrow(/total ≥ 1, got 0/);
    model.destroy();
  });

it('generate: a thinking budget that closes mid-chain gives what token-by-token decoding gives', async () => {
  const dir = 'models/tiny-hybrid-stories';
  const expected = await sharedJson(`${dir}/expected.json`);
  const tokenizer = (await loadTokenizer(sharedSource(dir)))!;
  const req = { prompt: expected.dtypes.float32.prompts[0].input_ids, maxTokens: 24, sampling: { temperature: 0 }, thinkingBudget: 5, startsInThinking: true, ignoreEos: true };
  const model = await Model.load(sharedSource(dir), await requestGpuDevice());
  const run = (sampling: object) => generate({ model, tokenizer, generationConfig: null, eosIds: [] }, { ...req, sampling });
  // A presence penalty too small to move an f32 logit takes generate off the GPU's greedy path: it
  // samples on the CPU from each step's logits, a token a round trip.
  const [chained, single] = [await run({ temperature: 0 }), await run({ temperature: 0, presencePenalty: 1e-30 })];
  model.destroy();
  expect(chained.ids).toEqual(single.ids);
  expect(chained.reasoning).toBe(single.reasoning);
  expect(chained.ids.length).toBe(24);
  expect(chained.text).toContain('</think>');
});
