import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { lightningDecode } from './lightningDecode';
import { decayTable, lightningPrefill } from './lightningPrefill';
import { maxAbsDiff, randn, readF32, run, testGpu } from './testing';

// Against the direct O(n²) form, from a non-zero incoming state, with heads of very different decay.
describe('lightningPrefill (block-wise) vs the direct form', () => {
  for (const [n, nh, hd, block] of [
    [7, 3, 5, 256],
    [37, 2, 8, 5],
    [64, 4, 6, 64],
    [21, 1, 3, 1],
    [90, 5, 12, 32],
  ])
    it(`n=${n} nh=${nh} hd=${hd} block=${block}`, async () => {
      const gpu = await testGpu();
      const qkv = randn(n * nh * 3 * hd, n + hd, 0.5);
      const S0 = randn(nh * hd * hd, 7);
      const lambdas = Array.from({ length: nh }, (_, h) => [0.92, 0.004, 0.3, 1e-5, 0.06][h % 5]);
      const state = gpu.upload(S0, 'S');
      const o = gpu.buffer(n * nh * hd * 4, 'o');
      const scores = gpu.buffer(nh * block * block * 4, 'scores');
      const args = { qkv: gpu.upload(qkv, 'qkv'), decay: gpu.upload(decayTable(lambdas, block), 'decay'), decayStride: block + 1, state, o, scores, n, numHeads: nh, headDim: hd };
      await run(gpu, (rec) => lightningPrefill(gpu, rec, args));
      const want = ref.lightning(qkv, n, nh, hd, S0, lambdas);
      const scale = Math.max(1, ...want.o.map(Math.abs));
      expect(maxAbsDiff(await readF32(gpu, o, n * nh * hd), want.o) / scale).toBeLessThan(2e-6);
      expect(maxAbsDiff(await readF32(gpu, state, nh * hd * hd), want.state) / Math.max(1, ...want.state.map(Math.abs))).toBeLessThan(2e-6);
    });
});

describe('lightningDecode (recurrence) vs the direct form', () => {
  it('steps 9 tokens one at a time', async () => {
    const gpu = await testGpu();
    const [n, nh, hd] = [9, 3, 7];
    const qkv = randn(n * nh * 3 * hd, 3, 0.5);
    const S0 = randn(nh * hd * hd, 4);
    const lambdas = [0.5, 0.01, 2e-5];
    const decay = gpu.upload(decayTable(lambdas, 4), 'decay');
    const state = gpu.upload(S0, 'S');
    const out = new Float32Array(n * nh * hd);
    for (let t = 0; t < n; t++) {
      const o = gpu.buffer(nh * hd * 4, 'o');
      const step = gpu.upload(qkv.subarray(t * nh * 3 * hd, (t + 1) * nh * 3 * hd), 'qkv');
      await run(gpu, (rec) => lightningDecode(gpu, rec, { qkv: step, decay, decayStride: 5, state, o, n: 1, numHeads: nh, headDim: hd }));
      out.set(await readF32(gpu, o, nh * hd), t * nh * hd);
    }
    const want = ref.lightning(qkv, n, nh, hd, S0, lambdas);
    expect(maxAbsDiff(out, want.o)).toBeLessThan(1e-4);
    expect(maxAbsDiff(await readF32(gpu, state, nh * hd * hd), want.state)).toBeLessThan(1e-4);
  });
});
