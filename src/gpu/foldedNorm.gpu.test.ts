import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { type Gpu, type KernelChoices } from './gpu';
import { type GpuTensor } from './tensor';
import { matmul } from './matmul';
import { normedSwiglu } from './normedSwiglu';
import { rmsnorm } from './rmsnorm';
import { expertSwiglu } from './expertSwiglu';
import { shaderSource } from './shaders';
import { maxAbsDiff, randn, readF32, run, testGpu, VARIANTS, weight } from './testing';

// Gemv by rows folds norms in (foldsNorm): the CPU variant, and the same with GPU tiles and workgroups of 64.
const FOLDING: { choices: Partial<KernelChoices> }[] = [
  VARIANTS[0],
  { choices: { ...VARIANTS[0].choices, tileRows: 64, unpackBytes: 0, threads: 0 } },
];
const EPS = 1e-5;

/** A norm's weight as the model holds it where norms fold: rounded to its stored format, widened to f32. */
async function normWeight(gpu: Gpu, values: Float32Array, stored: 'F32' | 'F16' | 'BF16'): Promise<{ t: GpuTensor; v: Float32Array }> {
  const { v } = await weight(gpu, values, [values.length], stored);
  return weight(gpu, v, [v.length], 'F32');
}

describe('an RMSNorm folded into its reader', () => {
  // Every format, shape and norm format on the CPU variant, each format on two of the shapes; two on the other.
  const SHAPES = [[7, 5, 0, 'F32'], [97, 66, 2, 'BF16'], [200, 300, 0, 'F16'], [45, 1001, 1, 'F32']] as const;
  const MATMULS = (['F32', 'F16', 'BF16', 'int8', 'int4'] as const).flatMap((dtype, i) => [
    { variant: FOLDING[0], dtype, shape: SHAPES[i % 4] },
    { variant: FOLDING[0], dtype, shape: SHAPES[(i + 1) % 4] },
  ]);
  MATMULS.push({ variant: FOLDING[1], dtype: 'F16', shape: SHAPES[1] }, { variant: FOLDING[1], dtype: 'int4', shape: SHAPES[3] });
  for (const { variant, dtype, shape: [k, rows, x0, normType] } of MATMULS)
        it(`matmul ${dtype} k=${k} rows=${rows} x0=${x0}, norm ${normType}: the normed row and y, bit for bit rmsnorm + gemv, ${JSON.stringify(variant.choices)}`, async () => {
          const gpu = await testGpu(variant);
          const x = randn((x0 + 1) * k, k + rows, 2);
          const g = await normWeight(gpu, randn(k, k, 1), normType);
          const { t, v } = await weight(gpu, randn(rows * k, rows, 0.3), [rows, k], dtype);
          const xb = gpu.upload(x, 'x');
          const [h, y, hSep, ySep] = [k, rows, k, rows].map((c, i) => gpu.buffer((x0 + 1) * c * 4, `out ${i}`));
          await run(gpu, (rec) => {
            matmul(gpu, rec, { x: xb, x0, n: 1, w: t, y, norm: { w: g.t, eps: EPS, h } });
            rmsnorm(gpu, rec, { x: xb, n: x0 + 1, w: g.t, eps: EPS, y: hSep });
            matmul(gpu, rec, { x: hSep, x0, n: 1, w: t, y: ySep });
          });
          const wantH = ref.rmsnorm(x.subarray(x0 * k), 1, k, g.v, EPS);
          const gotH = await readF32(gpu, h, k, x0 * k);
          expect(maxAbsDiff(gotH, wantH)).toBeLessThan(1e-5);
          const gotY = await readF32(gpu, y, rows);
          expect(maxAbsDiff(gotY, ref.matmul(wantH, 1, k, v, rows))).toBeLessThan(1e-4);
          // The same bits as the norm's own dispatch followed by gemv: prefill and decode agree exactly.
          expect(Array.from(gotH)).toEqual(Array.from(await readF32(gpu, hSep, k, x0 * k)));
          expect(Array.from(gotY)).toEqual(Array.from(await readF32(gpu, ySep, rows)));
        });

  // hidden 5, inter 37: more invocations (10) than channels, each writing at most one of h.
  const SWIGLUS = [
    { variant: FOLDING[0], dtype: 'BF16', normType: 'BF16', hidden: 33, inter: 21, stack: { index: 0, count: 1 } },
    { variant: FOLDING[0], dtype: 'int8', normType: 'BF16', hidden: 64, inter: 50, stack: { index: 1, count: 3 } },
    { variant: FOLDING[0], dtype: 'int4', normType: 'F16', hidden: 130, inter: 7, stack: { index: 2, count: 3 } },
    { variant: FOLDING[0], dtype: 'F32', normType: 'F32', hidden: 5, inter: 37, stack: { index: 0, count: 1 } },
    { variant: FOLDING[1], dtype: 'int8', normType: 'BF16', hidden: 130, inter: 7, stack: { index: 2, count: 3 } },
  ] as const;
  for (const { variant, dtype, normType, hidden, inter, stack } of SWIGLUS)
        it(`normedSwiglu ${dtype} hidden=${hidden} inter=${inter}, expert ${stack.index} of ${stack.count}, norm ${normType}: bit for bit rmsnorm + expertSwiglu, ${JSON.stringify(variant.choices)}`, async () => {
          const gpu = await testGpu(variant);
          const rows = inter * stack.count;
          const x = randn(hidden, hidden + inter, 2);
          const g = await normWeight(gpu, randn(hidden, 3, 1), normType);
          const w1 = await weight(gpu, randn(rows * hidden, 4, 0.3), [rows, hidden], dtype);
          const w3 = await weight(gpu, randn(rows * hidden, 5, 0.3), [rows, hidden], dtype);
          const xb = gpu.upload(x, 'x');
          const [h, u, hSep, uSep] = [hidden, inter, hidden, inter].map((c, i) => gpu.buffer(c * 4, `out ${i}`));
          const dense = { tok: gpu.upload(new Uint32Array([0]), 'tok'), runs: gpu.upload(new Uint32Array([0, 1]), 'runs'), expert: 0, count: 1, tokens: 1 };
          await run(gpu, (rec) => {
            normedSwiglu(gpu, rec, { x: xb, w1: w1.t, w3: w3.t, u, stack, norm: { w: g.t, eps: EPS, h } });
            rmsnorm(gpu, rec, { x: xb, n: 1, w: g.t, eps: EPS, y: hSep });
            expertSwiglu(gpu, rec, { ...dense, x: hSep, w1: w1.t, w3: w3.t, u: uSep, stack });
          });
          const wantH = ref.rmsnorm(x, 1, hidden, g.v, EPS);
          const part = (w: Float32Array) => w.subarray(stack.index * inter * hidden, (stack.index + 1) * inter * hidden);
          const a = ref.matmul(wantH, 1, hidden, part(w1.v), inter);
          const b = ref.matmul(wantH, 1, hidden, part(w3.v), inter);
          const gotH = await readF32(gpu, h, hidden);
          const gotU = await readF32(gpu, u, inter);
          expect(maxAbsDiff(gotH, wantH)).toBeLessThan(1e-5);
          expect(maxAbsDiff(gotU, a.map((z, i) => ref.silu(z) * b[i]))).toBeLessThan(1e-4);
          expect(Array.from(gotH)).toEqual(Array.from(await readF32(gpu, hSep, hidden)));
          expect(Array.from(gotU)).toEqual(Array.from(await readF32(gpu, uSep, inter)));
        });

  it('a weight in row parts, SiLU, a column offset: each part norms the row again; the other rows of h stay as they were', async () => {
    const [k, rows, x0, n] = [9, 23, 1, 3];
    const gpu = await testGpu({ ...FOLDING[0], maxTensorPartBytes: 5 * 32 }); // rows of 9 bf16 are two 16-byte chunks: 5 rows a part
    const x = randn(n * k, 31, 2);
    const g = await weight(gpu, randn(k, 32, 1), [k], 'F32');
    const { t, v } = await weight(gpu, randn(rows * k, 33, 0.3), [rows, k], 'BF16');
    expect(t.parts.length).toBe(5);
    const xb = gpu.upload(x, 'x');
    const sentinel = new Float32Array(n * k).fill(7);
    const h = gpu.upload(sentinel, 'h');
    const [y, hSep, ySep] = [rows + 2, k, rows + 2].map((c, i) => gpu.buffer(n * c * 4, `out ${i}`));
    const args = { x0, n: 1, w: t, yStride: rows + 2, yCol0: 1, act: 'silu' as const };
    await run(gpu, (rec) => {
      matmul(gpu, rec, { ...args, x: xb, y, norm: { w: g.t, eps: EPS, h } });
      rmsnorm(gpu, rec, { x: xb, n, w: g.t, eps: EPS, y: hSep });
      matmul(gpu, rec, { ...args, x: hSep, y: ySep });
    });
    const gotH = await readF32(gpu, h, n * k);
    const wantH = ref.rmsnorm(x.subarray(x0 * k, (x0 + 1) * k), 1, k, g.v, EPS);
    expect(maxAbsDiff(gotH.subarray(x0 * k, (x0 + 1) * k), wantH)).toBeLessThan(1e-5);
    expect([...gotH.subarray(0, x0 * k), ...gotH.subarray((x0 + 1) * k)]).toEqual([...sentinel.subarray(k)]);
    const gotY = await readF32(gpu, y, rows + 2);
    expect(maxAbsDiff(gotY.subarray(1, rows + 1), ref.matmul(wantH, 1, k, v, rows).map(ref.silu))).toBeLessThan(1e-5);
    expect(Array.from(gotY.subarray(1, rows + 1))).toEqual(Array.from((await readF32(gpu, ySep, rows + 2)).subarray(1, rows + 1)));
  });

  it('matmul refuses a folded norm where it cannot fold it: gemv sliced (every invocation would sum the row), more than one token, a residual join, a weight not widened to f32', async () => {
    const [k, rows] = [8, 5];
    const g = (gpu: Awaited<ReturnType<typeof testGpu>>) => weight(gpu, randn(k, 1), [k], 'F32');
    for (const [variant, n, residual] of [[VARIANTS[1], 1, false], [FOLDING[0], 2, false], [FOLDING[0], 1, true]] as const) {
      const gpu = await testGpu(variant);
      const { t } = await weight(gpu, randn(rows * k, 2), [rows, k], 'F32');
      const x = gpu.upload(randn(n * k, 3), 'x');
      const norm = { w: (await g(gpu)).t, eps: EPS, h: gpu.buffer(n * k * 4, 'h') };
      const rec = gpu.recorder();
      const res = residual ? { r: gpu.buffer(rows * 4, 'r'), alpha: 1, beta: 1 } : undefined;
      expect(() => matmul(gpu, rec, { x, n, w: t, y: gpu.buffer(n * rows * 4, 'y'), norm, residual: res })).toThrow(n > 1 || variant === VARIANTS[1] ? /gemv by rows/ : /no residual join/);
    }
    const gpu = await testGpu(FOLDING[0]);
    const { t } = await weight(gpu, randn(rows * k, 2), [rows, k], 'F32');
    const bf16 = (await weight(gpu, randn(k, 1), [k], 'BF16')).t;
    const norm = { w: bf16, eps: EPS, h: gpu.buffer(k * 4, 'h') };
    expect(() => matmul(gpu, gpu.recorder(), { x: gpu.upload(randn(k, 3), 'x'), n: 1, w: t, y: gpu.buffer(rows * 4, 'y'), norm })).toThrow(/test: a folded norm's weight must be f32/);
  });

  it('each shader file is included once, includes within includes too', () => {
    const source = shaderSource('matmul');
    expect(source.match(/fn sumSquares\(/g)).toHaveLength(1); // rms.wgsl, through foldedNorm.wgsl
    expect(source.match(/fn chunksOf\(/g)).toHaveLength(1); // weights.wgsl, included by matmul.wgsl and chunkDot's includer
    expect(source).not.toMatch(/#include/);
  });
});
