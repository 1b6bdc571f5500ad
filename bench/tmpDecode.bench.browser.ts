import { it } from 'vitest';
import { sharedJson, sharedSource } from '../src/engine/fixtures';
import { Model } from '../src/engine/model';
import { openCheckpoint } from '../src/model/checkpoint';

it('decode tok/s', async () => {
  for (const name of ['tiny-hybrid-stories', 'stories260k']) {
    const expected = await sharedJson(`models/${name}/expected.json`);
    const prompt: number[] = expected.dtypes.float32.prompts[0].input_ids;
    const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
    const model = await Model.fromCheckpoint(await openCheckpoint(sharedSource(`models/${name}`)), device);
    const res: number[] = [];
    for (let rep = 0; rep < 4; rep++) {
      model.reset();
      const ids = await model.greedyTokens(prompt, 1);
      const t1 = performance.now();
      while (ids.length < 64) ids.push(...(await model.greedyTokens([ids[ids.length - 1]], Math.min(8, 64 - ids.length))));
      res.push(63 / ((performance.now() - t1) / 1000));
      if (rep === 0) console.log(name, 'ids ok', ids.join() === expected.dtypes.float32.prompts[0].greedy_ids.slice(0, 64).join());
    }
    console.log(`RESULT ${name}: ${res.map((x) => x.toFixed(0)).join(' ')}`);
    model.destroy();
  }
});
