/**
 * A browser coordinator (createEngine in a module worker): a model split over 2 devices of the page's
 * worker, over the worker and a `lightmoe shard` process, and over 2 shard processes gives the logits
 * and greedy ids of one device. The shards run on the Node side (vitest.config.ts commands).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { commands } from 'vitest/browser';
import { createEngine, type Engine, type EngineOptions } from '../index';
import { maxAbsDiff } from '../gpu/testing';
import { sharedJson, sharedUrl } from '../engine/fixtures';

declare module 'vitest/browser' {
  interface BrowserCommands {
    startShard(folder: string, layers: string, origin: string): Promise<{ url: string; token: string }>;
    stopShards(): Promise<void>;
  }
}

afterAll(() => commands.stopShards());

// Two cases here (odd heads in bf16; the trained hybrid with 8 experts): src/shard/sharded.test.ts
// splits every checkpoint, and the split logic is one for Node and browser coordinators.
const CASES = [
  { folder: 'golden/tiny_odd_heads_bf16', layers: 5, ids: async () => (await sharedJson('golden/tiny_odd_heads_bf16/manifest.json')).input_ids as number[] },
  { folder: 'models/tiny-hybrid-stories', layers: 8, ids: async () => (await sharedJson('models/tiny-hybrid-stories/expected.json')).dtypes.float32.prompts[2].input_ids as number[] },
];

async function run(folder: string, ids: number[], opts: Partial<EngineOptions>): Promise<{ logits: Float32Array; greedy: number[] }> {
  const engine: Engine = await createEngine({ model: sharedUrl(folder), cache: false, ...opts });
  try {
    const logits = await engine.logits(ids);
    const greedy = (await engine.generate(ids, { maxTokens: 10, sampling: { temperature: 0 }, ignoreEos: true })).ids;
    return { logits, greedy };
  } finally {
    await engine.unload();
  }
}

for (const c of CASES) {
  describe(`${c.folder} from a browser coordinator`, async () => {
    const ids = await c.ids();
    const one = await run(c.folder, ids, {});
    const mid = Math.ceil(c.layers / 2);

    const same = (got: { logits: Float32Array; greedy: number[] }) => {
      expect(maxAbsDiff(got.logits, one.logits)).toBeLessThanOrEqual(1e-5);
      expect(got.greedy).toEqual(one.greedy);
    };

    // Each way of splitting on one of the two models (the Node tests split both every way): the page's
    // coordinator, worker and WebSockets are what this file adds.
    if (c === CASES[0])
    test('2 devices in the worker', async () => {
      same(await run(c.folder, ids, { devices: 2 }));
    });

    if (c === CASES[1])
    test('the worker and a shard', async () => {
      const s = await commands.startShard(c.folder, `${mid}-${c.layers - 1}`, location.origin);
      same(await run(c.folder, ids, { shards: [s] }));
    });

    if (c === CASES[1])
    test('2 shards, the page holding no layer', async () => {
      const a = await commands.startShard(c.folder, `0-${mid - 1}`, location.origin);
      const b = await commands.startShard(c.folder, `${mid}-${c.layers - 1}`, location.origin);
      same(await run(c.folder, ids, { shards: [a, b] }));
    });

    if (c === CASES[0])
      test('an origin the shard does not allow is refused', async () => {
        const s = await commands.startShard(c.folder, `${mid}-${c.layers - 1}`, 'http://localhost:1');
        await expect(run(c.folder, ids, { shards: [s] })).rejects.toThrow(new RegExp(`shard ${s.url} refused the connection`));
      });
  });
}
