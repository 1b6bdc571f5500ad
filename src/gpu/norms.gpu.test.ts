import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { embed } from './embed';
import { lightningOutput } from './lightningOutput';
import { residual } from './residual';
import { rmsnorm } from './rmsnorm';
import { maxAbsDiff, randn, readF32, run, testGpu, VARIANTS, weight } from './testing';

describe('rmsnorm', () => {
  for (const variant of VARIANTS)
  for (const dtype of ['F32', 'F16', 'BF16'] as const)
    for (const [n, dim] of [[1, 5], [7, 47], [3, 130], [2, 1001], [70, 33]]) // a workgroup a row under 64 rows (unless folding), else an invocation
      it(`${dtype} n=${n} dim=${dim}, ${variant.choices.foldNorm ? 'an invocation a row' : `workgroups of ${variant.choices.barrierWorkgroup}`}`, async () => {
        const gpu = await testGpu(variant);
        const x = randn(n * dim, dim, 3);
        const { t, v } = await weight(gpu, randn(dim, 2), [dim], dtype);
        const y = gpu.buffer(n * dim * 4, 'y');
        await run(gpu, (rec) => rmsnorm(gpu, rec, { x: gpu.upload(x, 'x'), n, w: t, eps: 1e-5, y }));
        expect(maxAbsDiff(await readF32(gpu, y, n * dim), ref.rmsnorm(x, n, dim, v, 1e-5))).toBeLessThan(1e-5);
      });
});

describe('lightningOutput (norm over all heads, then sigmoid gate)', () => {
  for (const variant of VARIANTS)
  for (const [n, dim] of [[1, 18], [5, 96], [4, 61], [1, 777], [65, 40]])
    it(`n=${n} dim=${dim}, ${variant.choices.foldNorm ? 'an invocation a row' : `workgroups of ${variant.choices.barrierWorkgroup}`}`, async () => {
      const gpu = await testGpu(variant);
      const o = randn(n * dim, 9, 300); // pre-norm lightning outputs can be large
      const g = randn(n * dim, 10, 2);
      const { t, v } = await weight(gpu, randn(dim, 11), [dim], 'BF16');
      const ob = gpu.upload(o, 'o');
      await run(gpu, (rec) => lightningOutput(gpu, rec, { o: ob, g: gpu.upload(g, 'g'), n, w: t, eps: 1e-6 }));
      expect(maxAbsDiff(await readF32(gpu, ob, n * dim), ref.lightningOutput(o, g, n, dim, v, 1e-6))).toBeLessThan(1e-5);
    });
});

describe('embed', () => {
  for (const quant of ['int8', 'int4'] as const)
    it(`gathers rows from an ${quant} table split into parts`, async () => {
      const [vocab, hidden] = [41, 75];
      const gpu = await testGpu({ maxTensorPartBytes: 256 + 5 * 96 });
      const { t, v } = await weight(gpu, randn(vocab * hidden, 4), [vocab, hidden], quant);
      expect(t.parts.length).toBeGreaterThan(3);
      const ids = [40, 0, 5, 6, 33, 12, 12];
      const x = gpu.buffer(ids.length * hidden * 4, 'x');
      await run(gpu, (rec) => embed(gpu, rec, { ids: gpu.upload(new Uint32Array(ids), 'ids'), n: ids.length, table: t, x }));
      expect(maxAbsDiff(await readF32(gpu, x, ids.length * hidden), ref.embed(ids, v, hidden))).toBeLessThan(1e-6);
    });

  it('gathers rows from a table split into parts', async () => {
    const [vocab, hidden] = [37, 13];
    const gpu = await testGpu({ maxTensorPartBytes: 6 * 13 * 2 });
    const { t, v } = await weight(gpu, randn(vocab * hidden, 3), [vocab, hidden], 'F16');
    expect(t.parts.length).toBeGreaterThan(5);
    const ids = [36, 0, 5, 6, 35, 12, 12];
    const x = gpu.buffer(ids.length * hidden * 4, 'x');
    await run(gpu, (rec) => embed(gpu, rec, { ids: gpu.upload(new Uint32Array(ids), 'ids'), n: ids.length, table: t, x }));
    expect(maxAbsDiff(await readF32(gpu, x, ids.length * hidden), ref.embed(ids, v, hidden))).toBe(0);
  });
});

describe('residual', () => {
  it('a = alpha r + beta a', async () => {
    const gpu = await testGpu();
    const count = 1237;
    const r = randn(count, 1);
    const a = randn(count, 2);
    const ab = gpu.upload(a, 'a');
    await run(gpu, (rec) => residual(gpu, rec, { r: gpu.upload(r, 'r'), a: ab, count, alpha: 3.5565588200778455, beta: 0.9 }));
    const want = a.map((v, i) => 3.5565588200778455 * r[i] + 0.9 * v);
    expect(maxAbsDiff(await readF32(gpu, ab, count), want)).toBeLessThan(1e-5);
  });
});
