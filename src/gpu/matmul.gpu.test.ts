import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { matmul } from './matmul';
import { maxAbsDiff, randn, readF32, run, testGpu, VARIANTS, weight } from './testing';

describe('matmul', () => {
  for (const variant of VARIANTS)
  for (const dtype of ['F32', 'F16', 'BF16', 'int8', 'int4'] as const)
    for (const [n, k, rows] of [[1, 7, 5], [5, 33, 19], [13, 64, 70], [1, 97, 66], [2, 130, 3], [6, 45, 131], [1, 200, 300], [1, 40, 1001]])
      it(`${dtype} n=${n} k=${k} rows=${rows}, ${JSON.stringify(variant.choices)}`, async () => {
        const gpu = await testGpu(variant);
        const x = randn(n * k, n + k);
        const { t, v } = await weight(gpu, randn(rows * k, rows, 0.3), [rows, k], dtype);
        const y = gpu.buffer(n * rows * 4, 'y');
        await run(gpu, (rec) => matmul(gpu, rec, { x: gpu.upload(x, 'x'), n, w: t, y }));
        expect(maxAbsDiff(await readF32(gpu, y, n * rows), ref.matmul(x, n, k, v, rows))).toBeLessThan(1e-4);
        if (dtype === 'int8' || dtype === 'int4') {
          // The quantized values stand close to the weights they replace (a block's range over 254 or 15 steps).
          expect(maxAbsDiff(v, randn(rows * k, rows, 0.3))).toBeLessThan(dtype === 'int8' ? 0.01 : 0.15);
        }
      });

  for (const quant of ['int8', 'int4'] as const)
    it(`${quant}: a weight split into row parts keeps each part's scales apart`, async () => {
      const [n, k, rows] = [3, 45, 29];
      const gpu = await testGpu({ maxTensorPartBytes: 256 + 7 * 64 }); // a few rows per part
      const x = randn(n * k, 9);
      const { t, v } = await weight(gpu, randn(rows * k, 8), [rows, k], quant);
      expect(t.parts.length).toBeGreaterThan(2);
      const y = gpu.buffer(n * rows * 4, 'y');
      await run(gpu, (rec) => matmul(gpu, rec, { x: gpu.upload(x, 'x'), n, w: t, y }));
      expect(maxAbsDiff(await readF32(gpu, y, n * rows), ref.matmul(x, n, k, v, rows))).toBeLessThan(1e-4);
    });

  it('splits a weight larger than one binding into row parts (odd bf16 rows), with SiLU and a row offset', async () => {
    const [n, k, rows, x0] = [3, 9, 23, 2];
    const gpu = await testGpu({ maxTensorPartBytes: 5 * 32 }); // rows of 9 bf16 are two 16-byte chunks: 5 rows per part
    const x = randn((x0 + n) * k, 4);
    const { t, v } = await weight(gpu, randn(rows * k, 5), [rows, k], 'BF16');
    expect(t.parts.map((p) => p.rows)).toEqual([5, 5, 5, 5, 3]);
    const y = gpu.buffer(n * (rows + 2) * 4, 'y');
    await run(gpu, (rec) => matmul(gpu, rec, { x: gpu.upload(x, 'x'), x0, n, w: t, y, yStride: rows + 2, yCol0: 1, act: 'silu' }));
    const got = await readF32(gpu, y, n * (rows + 2));
    const want = ref.matmul(x.subarray(x0 * k), n, k, v, rows).map(ref.silu);
    const cols = Array.from({ length: n * rows }, (_, i) => got[Math.floor(i / rows) * (rows + 2) + 1 + (i % rows)]);
    expect(maxAbsDiff(cols, want)).toBeLessThan(1e-5);
  });

  for (const n of [1, 5])
    for (const variant of VARIANTS)
      it(`the residual join fused in: y = alpha·r + beta·(x·Wᵀ), n=${n}, ${JSON.stringify(variant.choices)}`, async () => {
        const [k, rows, alpha, beta] = [37, 70, 1.7, 0.45];
        const gpu = await testGpu(variant);
        const x = randn(n * k, 21);
        const r = randn(n * rows, 22);
        const { t, v } = await weight(gpu, randn(rows * k, 23, 0.3), [rows, k], 'int8');
        const y = gpu.buffer(n * rows * 4, 'y');
        await run(gpu, (rec) => matmul(gpu, rec, { x: gpu.upload(x, 'x'), n, w: t, y, residual: { r: gpu.upload(r, 'r'), alpha, beta } }));
        const want = ref.matmul(x, n, k, v, rows).map((a, i) => alpha * r[i] + beta * a);
        expect(maxAbsDiff(await readF32(gpu, y, n * rows), want)).toBeLessThan(1e-4);
      });
});
