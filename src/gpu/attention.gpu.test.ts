import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { attention } from './attention';
import { rope, ropeTable } from './rope';
import { maxAbsDiff, randn, readF32, run, testGpu, VARIANTS } from './testing';

describe('rope (rotate-half on the first rotary_dim channels)', () => {
  for (const [n, heads, hd, rd, pos0, theta] of [
    [3, 2, 24, 12, 0, 1e7],
    [5, 3, 16, 8, 290, 1e4],
    [1, 6, 10, 10, 123456, 1e6],
  ])
    it(`n=${n} heads=${heads} hd=${hd} rd=${rd} pos0=${pos0}`, async () => {
      const gpu = await testGpu();
      const x = randn(n * heads * hd, hd + n);
      const xb = gpu.upload(x, 'x');
      const table = gpu.upload(ropeTable(pos0, n, rd, theta), 'cs');
      await run(gpu, (rec) => rope(gpu, rec, { x: xb, table, n, heads, headDim: hd, rotaryDim: rd }));
      expect(maxAbsDiff(await readF32(gpu, xb, x.length), ref.rope(x, n, heads, hd, rd, pos0, theta))).toBeLessThan(1e-5);
    });
});

describe('attention (causal, GQA, over a KV cache)', () => {
  for (const [n, past, nh, nkv, hd] of [
    [7, 0, 4, 2, 24], // prefill
    [1, 70, 6, 2, 16], // decode: more keys than a workgroup
    [5, 131, 3, 1, 10], // chunked prefill after a past
    [2, 3, 8, 8, 130], // head_dim larger than the workgroup
  ])
    for (const variant of VARIANTS)
    it(`n=${n} past=${past} nh=${nh} nkv=${nkv} hd=${hd}, workgroups of ≤ ${variant.choices.barrierWorkgroup}`, async () => {
      const gpu = await testGpu(variant);
      const q = randn(n * nh * hd, 1, 0.6);
      const K = randn((past + n) * nkv * hd, 2, 0.6);
      const V = randn((past + n) * nkv * hd, 3);
      const o = gpu.buffer(n * nh * hd * 4, 'o');
      await run(gpu, (rec) =>
        attention(gpu, rec, { q: gpu.upload(q, 'q'), k: gpu.upload(K, 'k'), v: gpu.upload(V, 'v'), o, n, past, numHeads: nh, numKvHeads: nkv, headDim: hd }),
      );
      expect(maxAbsDiff(await readF32(gpu, o, n * nh * hd), ref.attention(q, K, V, n, nh, nkv, hd, past))).toBeLessThan(1e-5);
    });
});
