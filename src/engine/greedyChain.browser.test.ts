import { expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { sharedJson, sharedSource } from './fixtures';
import { Model } from './model';

// A greedy chain (each step's argmax feeding the next embedding on the GPU) against one nextToken
// call a token, on both trained models; then the state goes on as if the chain had been token by token.
for (const name of ['stories260k', 'tiny-hybrid-stories'])
  for (const prefillChunk of [4, 256])
  it(`${name}, prefill chunks of ${prefillChunk}: greedyTokens(prompt, 13) = 13 nextToken calls, and the state after it is theirs`, async () => {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const p = expected.dtypes.float32.prompts[1];
    const model = await Model.load(sharedSource(`models/${name}`), await requestGpuDevice(), { prefillChunk });
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
