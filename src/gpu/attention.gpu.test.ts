import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { attention } from './attention';
import { kvAppend } from './kvAppend';
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

  it('heads at the start of wider rows (q|k|v): the rest of each row untouched', async () => {
    const [n, heads, hd, rd, stride] = [3, 5, 8, 6, 5 * 8 + 13];
    const gpu = await testGpu();
    const rows = randn(n * stride, 11);
    const xb = gpu.upload(rows, 'x');
    await run(gpu, (rec) => rope(gpu, rec, { x: xb, table: gpu.upload(ropeTable(9, n, rd, 1e4), 'cs'), n, heads, headDim: hd, rotaryDim: rd, stride }));
    const got = await readF32(gpu, xb, rows.length);
    const packed = Float32Array.from({ length: n * heads * hd }, (_, i) => rows[Math.floor(i / (heads * hd)) * stride + (i % (heads * hd))]);
    const want = ref.rope(packed, n, heads, hd, rd, 9, 1e4);
    for (let t = 0; t < n; t++)
      for (let c = 0; c < stride; c++) {
        const expected = c < heads * hd ? want[t * heads * hd + c] : rows[t * stride + c];
        expect(Math.abs(got[t * stride + c] - expected)).toBeLessThan(1e-5);
      }
  });
});

describe('kvAppend', () => {
  it('appends keys and values from strided rows at a position, leaving the rest of the cache', async () => {
    const [n, width, stride, kCol, vCol, pos, capacity] = [4, 6, 23, 9, 15, 5, 12];
    const gpu = await testGpu();
    const src = randn(n * stride, 3);
    const k0 = randn(capacity * width, 4);
    const v0 = randn(capacity * width, 5);
    const [k, v] = [gpu.upload(k0, 'k'), gpu.upload(v0, 'v')];
    await run(gpu, (rec) => kvAppend(gpu, rec, { src: gpu.upload(src, 'src'), stride, kCol, vCol, width, n, pos, k, v }));
    const [gk, gv] = [await readF32(gpu, k, k0.length), await readF32(gpu, v, v0.length)];
    for (let r = 0; r < capacity; r++)
      for (let c = 0; c < width; c++) {
        const t = r - pos;
        const inside = t >= 0 && t < n;
        expect(gk[r * width + c]).toBe(inside ? src[t * stride + kCol + c] : k0[r * width + c]);
        expect(gv[r * width + c]).toBe(inside ? src[t * stride + vCol + c] : v0[r * width + c]);
      }
  });
});

describe('attention (causal, GQA, over a KV cache)', () => {
  for (const [n, past, nh, nkv, hd, qStride = nh * hd] of [
    [7, 0, 4, 2, 24], // prefill
    [1, 70, 6, 2, 16], // decode: more keys than a workgroup
    [5, 131, 3, 1, 10], // chunked prefill after a past
    [2, 3, 8, 8, 130], // head_dim larger than the workgroup
    [3, 4, 4, 2, 12, 4 * 12 + 2 * 2 * 12], // q the first heads of q|k|v rows
  ])
    for (const variant of VARIANTS)
    it(`n=${n} past=${past} nh=${nh} nkv=${nkv} hd=${hd} q rows of ${qStride}, workgroups of ≤ ${variant.choices.barrierWorkgroup}`, async () => {
      const gpu = await testGpu(variant);
      const q = randn(n * nh * hd, 1, 0.6);
      // q's rows inside wider ones (the rest is noise the kernel must not read)
      const rows = randn(n * qStride, 7);
      for (let t = 0; t < n; t++) rows.set(q.subarray(t * nh * hd, (t + 1) * nh * hd), t * qStride);
      const K = randn((past + n) * nkv * hd, 2, 0.6);
      const V = randn((past + n) * nkv * hd, 3);
      const o = gpu.buffer(n * nh * hd * 4, 'o');
      await run(gpu, (rec) =>
        attention(gpu, rec, { q: gpu.upload(rows, 'q'), qStride, k: gpu.upload(K, 'k'), v: gpu.upload(V, 'v'), o, n, past, numHeads: nh, numKvHeads: nkv, headDim: hd }),
      );
      expect(maxAbsDiff(await readF32(gpu, o, n * nh * hd), ref.attention(q, K, V, n, nh, nkv, hd, past))).toBeLessThan(1e-5);
    });
});
