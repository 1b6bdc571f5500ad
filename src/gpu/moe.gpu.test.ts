import { describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { argmax } from './argmax';
import { expertDown, expertDownRouted } from './expertDown';
import { expertSwiglu, expertSwigluRouted } from './expertSwiglu';
import { router } from './router';
import { sharedExpertMix } from './sharedExpertMix';
import { Params } from './params';
import { moePlan } from './moePlan';
import { INDIRECT_STORAGE } from './gpu';
import { VARIANTS, maxAbsDiff, randn, readF32, readU32, run, testGpu, weight } from './testing';

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
  // Two experts over routed rows of 11 tokens, planned by the CPU (direct dispatch) or by moePlan on the
  // GPU (indirect dispatch), onto what `out` already holds.
  for (const dtype of ['F32', 'F16', 'BF16', 'int8', 'int4'] as const)
    for (const [planned, n, v] of [['cpu', 11, 0], ['gpu', 11, 1], ['gpu', 1, 0], ['gpu', 1, 1]] as const)
      it(`${dtype}, ${planned} plan, ${n} token${n > 1 ? 's' : ''}, ${JSON.stringify(VARIANTS[v].choices)}`, async () => {
        const gpu = await testGpu(VARIANTS[v]);
        const [hidden, inter, E, k] = [19, 23, 3, 1];
        const x = randn(n * hidden, 1);
        const xb = gpu.upload(x, 'x');
        const out = gpu.upload(randn(n * hidden, 2), 'out');
        const want = await readF32(gpu, out, n * hidden);
        // Token t goes to expert route[t] (expert 2 gets none) with weight w[t].
        const route = [0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0].slice(0, n);
        const w = randn(n, 3).map(Math.abs);
        const rows = [0, 1].map((e) => route.flatMap((r, t) => (r === e ? [t] : [])));
        const tok = gpu.buffer(n * 4, 'tok');
        const rowWeight = gpu.buffer(n * 4, 'row weight');
        const runs = gpu.buffer(2 * E * 4, 'runs');
        const args = gpu.buffer(6 * E * 4, 'args', INDIRECT_STORAGE);
        if (planned === 'cpu') {
          gpu.write(tok, 0, new Uint32Array(rows.flat()));
          gpu.write(rowWeight, 0, Float32Array.from(rows.flat(), (t) => w[t]));
          gpu.write(runs, 0, new Uint32Array([0, rows[0].length, rows[0].length, rows[1].length, n, 0]));
        } else {
          const idx = gpu.upload(new Uint32Array(route), 'idx');
          await run(gpu, (rec) => moePlan(gpu, rec, { idx, weight: gpu.upload(w, 'w'), n, k, experts: E, inter, hidden, tok, rowWeight, runs, args }));
          expect(Array.from(await readU32(gpu, runs, 2 * E))).toEqual([0, rows[0].length, rows[0].length, rows[1].length, n, 0]);
          expect(Array.from(await readU32(gpu, tok, n))).toEqual(rows.flat());
          expect(Array.from(await readU32(gpu, args, 6 * E))).toEqual(
            rows.concat([[]]).flatMap((r) => {
              const per = n === 1 ? 4 : 1; // one token: an invocation takes 4 weight rows
              // The expert kernels take workgroups of 64, or at one token of Gpu.spread's size.
              const wg = (rows: number) => (n === 1 ? gpu.spread(Math.ceil(rows / 4)) : 64);
              return [Math.ceil(Math.ceil(inter / per) / wg(inter)), Math.ceil(r.length / 4), 1, Math.ceil(Math.ceil(hidden / per) / wg(hidden)), Math.ceil(r.length / 4), 1];
            }),
          );
        }
        const u = gpu.buffer(n * inter * 4, 'u');
        for (let e = 0; e < E; e++) {
          const w1 = await weight(gpu, randn(inter * hidden, 10 + e, 0.3), [inter, hidden], dtype);
          const w3 = await weight(gpu, randn(inter * hidden, 20 + e, 0.3), [inter, hidden], dtype);
          const w2 = await weight(gpu, randn(hidden * inter, 30 + e, 0.3), [hidden, inter], dtype);
          const at = planned === 'cpu' ? { count: e < 2 ? rows[e].length : 0 } : { args };
          await run(gpu, (rec) => {
            expertSwiglu(gpu, rec, { tok, runs, expert: e, ...at, tokens: n, x: xb, w1: w1.t, w3: w3.t, u });
            expertDown(gpu, rec, { tok, runs, expert: e, ...at, tokens: n, u, w2: w2.t, weight: rowWeight, out });
          });
          for (const t of rows[e] ?? []) {
            const y = ref.expert(x.subarray(t * hidden, (t + 1) * hidden), hidden, inter, w1.v, w3.v, w2.v);
            for (let c = 0; c < hidden; c++) want[t * hidden + c] += w[t] * y[c];
          }
        }
        expect(maxAbsDiff(await readF32(gpu, out, n * hidden), want)).toBeLessThan(1e-4);
      });

  // Decode's path: E experts stacked in one tensor each, every choice of n tokens in one dispatch each
  // way; the choices are not in expert order, and their sum must be what one dispatch an expert adds
  // (the same experts through the per-expert kernels, at their rows of the same stacks), bit for bit.
  for (const dtype of ['F32', 'F16', 'BF16', 'int8', 'int4'] as const)
    // k ≥ 3: two choices add the same in either order, so order is only tested from three.
    for (const [n, k, v] of [[1, 3, 0], [2, 4, 1]] as const)
      it(`routed: ${dtype}, ${n} token${n > 1 ? 's' : ''}, k = ${k}, ${JSON.stringify(VARIANTS[v].choices)}`, async () => {
        const gpu = await testGpu(VARIANTS[v]);
        const [hidden, inter, E] = [21, 37, 5];
        const x = randn(n * hidden, 4);
        const xb = gpu.upload(x, 'x');
        // Token t chooses experts idx[t·k ..] (distinct, descending first) with weights w.
        const idx = Array.from({ length: n }, (_, t) => Array.from({ length: k }, (_, m) => (E - 1 - m * 2 - t + 2 * E) % E)).flat();
        const w = randn(n * k, 5).map(Math.abs);
        const w1 = await weight(gpu, randn(E * inter * hidden, 11, 0.3), [E * inter, hidden], dtype);
        const w3 = await weight(gpu, randn(E * inter * hidden, 12, 0.3), [E * inter, hidden], dtype);
        const w2 = await weight(gpu, randn(E * hidden * inter, 13, 0.3), [E * hidden, inter], dtype);
        const idxB = gpu.upload(new Uint32Array(idx), 'idx');
        const wB = gpu.upload(w, 'w');
        const u = gpu.buffer(n * k * inter * 4, 'u');
        const out = gpu.upload(randn(n * hidden, 6), 'out'); // every element is written
        await run(gpu, (rec) => {
          expertSwigluRouted(gpu, rec, { x: xb, w1: w1.t, w3: w3.t, experts: E, idx: idxB, n, k, u });
          expertDownRouted(gpu, rec, { u, w2: w2.t, experts: E, idx: idxB, weight: wB, n, k, out });
        });
        const got = await readF32(gpu, out, n * hidden);
        const want = new Float32Array(n * hidden);
        for (let t = 0; t < n; t++)
          for (let m = 0; m < k; m++) {
            const e = idx[t * k + m];
            const part = (a: Float32Array, rows: number) => a.subarray(e * rows * (a.length / (E * rows)), (e + 1) * rows * (a.length / (E * rows)));
            const y = ref.expert(x.subarray(t * hidden, (t + 1) * hidden), hidden, inter, part(w1.v, inter), part(w3.v, inter), part(w2.v, hidden));
            for (let c = 0; c < hidden; c++) want[t * hidden + c] += w[t * k + m] * y[c];
          }
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);

        // With the residual join fused in: out = alpha·r + beta·(the sum).
        const r = randn(n * hidden, 7);
        const joined = gpu.buffer(n * hidden * 4, 'joined');
        await run(gpu, (rec) =>
          expertDownRouted(gpu, rec, { u, w2: w2.t, experts: E, idx: idxB, weight: wB, n, k, out: joined, residual: { r: gpu.upload(r, 'r'), alpha: 0.75, beta: -1.5 } }),
        );
        expect(maxAbsDiff(await readF32(gpu, joined, n * hidden), got.map((v, i) => 0.75 * r[i] - 1.5 * v))).toBeLessThan(1e-5);

        // The per-expert kernels on the same stacks, experts in order, onto a cleared out.
        const rows = Array.from({ length: E }, (_, e) => idx.flatMap((f, r) => (f === e ? [r] : [])));
        const tok = gpu.upload(new Uint32Array(rows.flat().map((r) => Math.floor(r / k))), 'tok');
        const rowWeight = gpu.upload(Float32Array.from(rows.flat(), (r) => w[r]), 'row weight');
        const starts = rows.map((_, e) => rows.slice(0, e).reduce((s, r) => s + r.length, 0));
        const runs = gpu.upload(new Uint32Array(rows.flatMap((r, e) => [starts[e], r.length])), 'runs');
        const one = gpu.buffer(n * k * inter * 4, 'u one');
        const each = gpu.buffer(n * hidden * 4, 'out each');
        await run(gpu, (rec) => {
          rec.clear(each);
          for (let e = 0; e < E; e++) {
            const at = { tok, runs, expert: e, count: rows[e].length, tokens: n, stack: { index: e, count: E } };
            expertSwiglu(gpu, rec, { ...at, x: xb, w1: w1.t, w3: w3.t, u: one });
            expertDown(gpu, rec, { ...at, u: one, w2: w2.t, weight: rowWeight, out: each });
          }
        });
        expect(Array.from(await readF32(gpu, each, n * hidden))).toEqual(Array.from(got));
      });

  for (const [E, v] of [[7, 0], [7, 1], [37, 1]] as const)
    it(`moePlan groups k = 3 choices per token by expert, in token order: ${E} experts, workgroups of at most ${VARIANTS[v].choices.barrierWorkgroup}`, async () => {
      const gpu = await testGpu(VARIANTS[v]);
      const [n, k] = [5, 3];
      const idx = [4, 0, 6, 0, 4, 2, 6, 5, 0, 1, 4, 0, 2, 3, 6].map((e, r) => (E > 7 && r % 4 === 3 ? E - 1 - r : e));
      const w = randn(n * k, 9);
      const out = { tok: gpu.buffer(n * k * 4, 'tok'), rowWeight: gpu.buffer(n * k * 4, 'rw'), runs: gpu.buffer(2 * E * 4, 'runs'), args: gpu.buffer(6 * E * 4, 'args', INDIRECT_STORAGE) };
      await run(gpu, (rec) => moePlan(gpu, rec, { idx: gpu.upload(new Uint32Array(idx), 'idx'), weight: gpu.upload(w, 'w'), n, k, experts: E, inter: 10, hidden: 70, ...out }));
      // The CPU's grouping, written out: rows r with idx[r] == e, for e = 0 … E-1.
      const byExpert = Array.from({ length: E }, (_, e) => idx.flatMap((f, r) => (f === e ? [r] : [])));
      const order = byExpert.flat();
      expect(Array.from(await readU32(gpu, out.tok, n * k))).toEqual(order.map((r) => Math.floor(r / k)));
      expect(Array.from(await readF32(gpu, out.rowWeight, n * k))).toEqual(order.map((r) => w[r]));
      expect(Array.from(await readU32(gpu, out.runs, 2 * E))).toEqual(byExpert.flatMap((rows, e) => [byExpert.slice(0, e).reduce((s, r) => s + r.length, 0), rows.length]));
    });
});

describe('argmax', () => {
  for (const count of [1, 7, 512, 1031])
    for (const variant of VARIANTS)
    it(`count=${count}, first index on ties, workgroups of ${variant.choices.barrierWorkgroup}`, async () => {
      const gpu = await testGpu(variant);
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
