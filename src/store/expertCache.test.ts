/**
 * Streamed experts give the resident model's logits, bit for bit, on the golden checkpoints: in Node
 * (Dawn), beside the browser's expert-cache tests (src/store/expertCache.browser.test.ts), which run
 * the trained models and a failed read.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../gpu/testing';
import { EXPERT_SETTINGS } from '../engine/fixtures';
import { Model } from '../engine/model';
import { openCheckpoint } from '../model/checkpoint';
import { nodeGpuDevice } from '../node/gpu';
import { nodeSource } from '../node/source';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');

describe('streamed experts give the logits of the fully resident model', () => {
  for (const name of ['tiny_pow2_f32', 'tiny_odd_heads_bf16'])
    it(name, async () => {
      const dir = path.join(shared, 'golden', name);
      const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
      const golden = new Float32Array(new Uint8Array(await readFile(path.join(dir, 'logits.bin'))).buffer);
      const ids: number[] = manifest.input_ids;
      const ckpt = await openCheckpoint(nodeSource(dir));
      // Prefill in chunks, then decode, where one token's experts come and go.
      const run = async (model: Model) => {
        const rows = [await model.forward(ids.slice(0, 280), 'all')];
        for (const id of ids.slice(280)) rows.push(await model.forward([id], 'last'));
        model.destroy();
        return Float32Array.from(rows.flatMap((r) => Array.from(r)));
      };
      const opts = { prefillChunk: 64 };
      const want = await run(await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), opts));
      expect(maxAbsDiff(want, golden)).toBeLessThan(manifest.tolerance.fp32_runtime.logits_max_abs_diff);
      // A cache holding every expert (budget 1) is the browser test's case (expertCache.browser.test.ts).
      for (const [budget, prefetch] of EXPERT_SETTINGS.filter(([b]) => b < 1)) {
        const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { ...opts, expertBudget: budget, prefetch });
        const stats = model.experts!.stats;
        expect(await run(model)).toEqual(want); // bit for bit: same experts, same order
        if (budget < 1 && !prefetch) expect(stats.misses).toBeGreaterThan(manifest.normalized_config.num_local_experts);
        if (prefetch) expect(stats.predicted).toBeGreaterThan(0);
      }
    });
});
