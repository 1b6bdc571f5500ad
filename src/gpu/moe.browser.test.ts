import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { argmax } from './argmax';
import { expertDown } from './expertDown';
import { expertSwiglu } from './expertSwiglu';
import { router } from './router';
import { sharedExpertMix } from './sharedExpertMix';
import { Params } from './params';
import { maxAbsDiff, randn, readF32, readU32, run, testGpu, weight } from './testing';

describe('router (softmax, top-k, renormalise)', () => {
  for (const [n, E, k] of [[5, 6, 2], [9, 5, 3], [3, 1, 1], [4, 33, 8]])
    it(`n=${n} E=${E} k=${k}`, async () => {
      const gpu = await testGpu();
      const z = randn(n * E, E * 7 + k, 2);
      const idx = gpu.buffer(n * k * 4, 'idx');
      const w = gpu.buffer(n * k * 4, 'w');
      await run(gpu, (rec) => router(gpu, rec, { z: gpu.upload(z, 'z'), n, experts: E, k, idx, weight: w }));
      const want = ref.route(z, n, E, k);
      expect(Array.from(await readU32(gpu, idx, n * k))).toEqual(Array.from(want.idx));
      expect(maxAbsDiff(await readF32(gpu, w, n * k), want.weight)).toBeLessThan(1e-6);
    });

  it('breaks ties towards the lower expert index', async () => {
    const gpu = await testGpu();
    const z = new Float32Array([0.5, 2, 1, 2, 2, -1, 0.5, 0.5]);
    const idx = gpu.buffer(12, 'idx');
    const w = gpu.buffer(12, 'w');
    await run(gpu, (rec) => router(gpu, rec, { z: gpu.upload(z, 'z'), n: 1, experts: 8, k: 3, idx, weight: w }));
    expect(Array.from(await readU32(gpu, idx, 3))).toEqual([1, 3, 4]);
  });
});

describe('experts (gathered SwiGLU, weighted scatter-add)', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const)
    it(`${dtype}: two experts over routed rows of 11 tokens`, async () => {
      const gpu = await testGpu();
      const [n, hidden, inter] = [11, 19, 23];
      const x = randn(n * hidden, 1);
      const xb = gpu.upload(x, 'x');
      const out = gpu.upload(randn(n * hidden, 2), 'out'); // accumulates onto what is there
      const before = await readF32(gpu, out, n * hidden);
      const want = Float32Array.from(before);
      const rows = [[0, 3, 4, 7, 10], [1, 3, 9]];
      const tok = new Uint32Array(rows.flat());
      const wts = randn(tok.length, 3).map(Math.abs);
      const tokB = gpu.upload(tok, 'tok');
      const wB = gpu.upload(wts, 'w');
      const u = gpu.buffer(n * inter * 4, 'u');
      let tok0 = 0;
      for (const [e, list] of rows.entries()) {
        const w1 = await weight(gpu, randn(inter * hidden, 10 + e, 0.3), [inter, hidden], dtype);
        const w3 = await weight(gpu, randn(inter * hidden, 20 + e, 0.3), [inter, hidden], dtype);
        const w2 = await weight(gpu, randn(hidden * inter, 30 + e, 0.3), [hidden, inter], dtype);
        const rowsArgs = { tok: tokB, tok0, count: list.length };
        await run(gpu, (rec) => {
          expertSwiglu(gpu, rec, { ...rowsArgs, x: xb, w1: w1.t, w3: w3.t, u });
          expertDown(gpu, rec, { ...rowsArgs, u, w2: w2.t, weight: wB, out });
        });
        list.forEach((t, r) => {
          const y = ref.expert(x.subarray(t * hidden, (t + 1) * hidden), hidden, inter, w1.v, w3.v, w2.v);
          for (let c = 0; c < hidden; c++) want[t * hidden + c] += wts[tok0 + r] * y[c];
        });
        tok0 += list.length;
      }
      expect(maxAbsDiff(await readF32(gpu, out, n * hidden), want)).toBeLessThan(1e-4);
    });
});

describe('argmax', () => {
  for (const count of [1, 7, 512, 1031])
    it(`count=${count}, first index on ties`, async () => {
      const gpu = await testGpu();
      const v = randn(count + 3, count);
      const top = Math.floor(count / 2);
      v[3 + top] = 50;
      if (count > 600) v[3 + count - 1] = 50; // a later tie must lose
      const out = gpu.buffer(4, 'out');
      await run(gpu, (rec) => argmax(gpu, rec, { logits: gpu.upload(v, 'v'), offset: 3, count, out }));
      expect((await readU32(gpu, out, 1))[0]).toBe(ref.argmax(v.subarray(3)));
      expect((await readU32(gpu, out, 1))[0]).toBe(top);
    });
});

describe('sharedExpertMix', () => {
  it('moe ← moe·(1 − σ(cz)) + shared·σ(cz)', async () => {
    const gpu = await testGpu();
    const [n, hidden] = [7, 45];
    const cz = randn(n, 1, 2);
    const shared = randn(n * hidden, 2);
    const moe = randn(n * hidden, 3);
    const mb = gpu.upload(moe, 'moe');
    await run(gpu, (rec) => sharedExpertMix(gpu, rec, { cz: gpu.upload(cz, 'cz'), shared: gpu.upload(shared, 'shared'), moe: mb, n, hidden }));
    const want = moe.map((v, i) => {
      const c = ref.sigmoid(cz[Math.floor(i / hidden)]);
      return v * (1 - c) + shared[i] * c;
    });
    expect(maxAbsDiff(await readF32(gpu, mb, n * hidden), want)).toBeLessThan(1e-6);
  });
});

describe('GPU errors', () => {
  it('a readback after an invalid submit fails instead of returning stale bytes', async () => {
    const gpu = await testGpu({ maxTensorPartBytes: 1 << 20 }); // a device of its own
    const rec = gpu.recorder();
    const tiny = gpu.buffer(16, 'tiny');
    // A matmul whose weight binding is a destroyed buffer: the whole submit is invalid.
    const w = gpu.buffer(64, 'w');
    w.destroy();
    rec.dispatch(gpu.pipeline('residual'), new Params().u32(4).f32(1).f32(1), [w, tiny], 1);
    const p = rec.read(tiny, 0, 16);
    rec.submit();
    await expect(p).rejects.toThrow(/GPU error/);
  });
});
