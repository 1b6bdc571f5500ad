import { describe, expect, it } from 'vitest';
import { decode, encode } from '../model/dtype';
import * as ref from '../reference/ops';
import { attention, attentionScratchFloats, attentionSplits, kvHeadStride } from './attention';
import { ropeAppend, ropeTable } from './ropeAppend';
import type { KvFormat } from './gpu';
import { maxAbsDiff, randn, readF32, run, testGpu, VARIANTS } from './testing';

/** A KV page's values as the cache stores them: f32, or f16 halves packed two a word. */
const kvBytes = (x: Float32Array, format: KvFormat) => (format === 'f16' ? encode(x, 'F16') : x);
const kvValues = (bytes: ArrayBuffer, format: KvFormat) => (format === 'f16' ? decode(new Uint8Array(bytes), 'F16') : new Float32Array(bytes));
/** Values rounded as the cache holds them. */
const asStored = (x: Float32Array, format: KvFormat) => (format === 'f16' ? decode(encode(x, 'F16'), 'F16') : x);

describe('ropeAppend (RoPE on q and k, k and v appended to a paged KV cache)', () => {
  for (const kvFormat of ['f32', 'f16'] as const)
  for (const [n, pos, pageTokens, nh, nkv, hd, rd, theta, row0] of [
    [4, 5, 12, 4, 2, 3, 2, 1e4, 0], // heads padded to quads, odd head_dim
    [9, 3, 4, 2, 1, 8, 8, 1e6, 2], // across three pages, a later row of the table
    [1, 7, 8, 6, 3, 10, 6, 1e7, 0], // the last row of a page, channels past rotary_dim
    [3, 0, 16, 3, 3, 16, 16, 5e5, 1], // as many kv heads as q heads
  ])
    it(`${kvFormat}: ${n} tokens at ${pos} into pages of ${pageTokens}, ${nh}/${nkv} heads of ${hd}, rotary ${rd}: padding and the rest kept`, async () => {
      const qw = nh * hd;
      const [kCol, vCol] = [qw + 5, qw + 5 + nkv * hd + 3];
      const stride = vCol + nkv * hd + 2;
      const hdp = kvHeadStride(hd);
      const row = nkv * hdp;
      const gpu = await testGpu({ choices: { kvFormat } });
      const src = randn(n * stride, 3);
      const count = Math.ceil((pos + n) / pageTokens);
      const k0 = Array.from({ length: count }, (_, i) => asStored(randn(pageTokens * row, 4 + i), kvFormat));
      const v0 = Array.from({ length: count }, (_, i) => asStored(randn(pageTokens * row, 40 + i), kvFormat));
      const pages = k0.map((k, i) => ({ k: gpu.upload(kvBytes(k, kvFormat), 'k'), v: gpu.upload(kvBytes(v0[i], kvFormat), 'v') }));
      const pos0 = 290; // token t is at position pos0 + t: row row0 + t of a table that starts at pos0 - row0
      const table = gpu.upload(ropeTable(pos0 - row0, row0 + n, rd, theta), 'cs');
      const srcBuffer = gpu.upload(src, 'src');
      await run(gpu, (rec) =>
        ropeAppend(gpu, rec, { src: srcBuffer, stride, kCol, vCol, numHeads: nh, numKvHeads: nkv, headDim: hd, rotaryDim: rd, table, tableRow0: row0, n, pos, pages, pageTokens }),
      );
      const cols = (c0: number, width: number) => Float32Array.from({ length: n * width }, (_, i) => src[Math.floor(i / width) * stride + c0 + (i % width)]);
      const q = ref.rope(cols(0, qw), n, nh, hd, rd, pos0, theta);
      const k = ref.rope(cols(kCol, nkv * hd), n, nkv, hd, rd, pos0, theta);
      const v = cols(vCol, nkv * hd);
      const got = await readF32(gpu, srcBuffer, src.length);
      for (let t = 0; t < n; t++)
        for (let c = 0; c < stride; c++) {
          const want = c < qw ? q[t * qw + c] : src[t * stride + c]; // q turned, the rest of the row as it was
          expect(Math.abs(got[t * stride + c] - want)).toBeLessThan(1e-5);
        }
      // f16: a value within one half's step of the reference (its rounding may go either way); a
      // padding half that shares a word with the head's last channel is written as 0.
      const f16 = kvFormat === 'f16';
      const near = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(f16 ? 2 ** -10 * Math.abs(want) + 1e-6 : 1e-5);
      const bytes = pageTokens * row * (f16 ? 2 : 4);
      for (let i = 0; i < count; i++) {
        const [gk, gv] = [kvValues(await gpu.read(pages[i].k, 0, bytes), kvFormat), kvValues(await gpu.read(pages[i].v, 0, bytes), kvFormat)];
        for (let r = 0; r < pageTokens; r++)
          for (let h = 0; h < nkv; h++)
            for (let e = 0; e < hdp; e++) {
              const t = i * pageTokens + r - pos;
              const written = t >= 0 && t < n;
              const inside = written && e < hd;
              const at = r * row + h * hdp + e;
              const from = (t * nkv + h) * hd + e;
              if (inside) {
                near(gk[at], k[from]);
                if (f16) near(gv[at], v[from]);
                else expect(gv[at]).toBe(v[from]);
              } else if (f16 && written && e === hd && hd % 2 === 1) {
                expect([gk[at], gv[at]]).toEqual([0, 0]);
              } else {
                expect([gk[at], gv[at]]).toEqual([k0[i][at], v0[i][at]]);
              }
            }
      }
    });
});

describe('attention (causal, GQA, over a paged KV cache)', () => {
  for (const [n, past, nh, nkv, hd, pageTokens, qStride = nh * hd] of [
    [7, 0, 4, 2, 24, 256], // prefill, one page
    [1, 70, 6, 2, 16, 256], // decode: keys split many ways on a GPU
    [5, 131, 3, 1, 10, 32], // chunked prefill after a past, over 5 pages
    [2, 3, 8, 8, 130, 2], // head_dim over a hundred, pages of 2 tokens
    [3, 4, 4, 2, 12, 5, 4 * 12 + 2 * 2 * 12], // q the first heads of q|k|v rows, a page of 5
    [1, 1000, 2, 1, 256, 300], // the largest head_dim, a last page partly full
    [6, 40, 4, 2, 72, 16], // three queries an invocation
    [19, 30, 4, 2, 32, 16], // eight queries an invocation, the last block part full
    [9, 3, 2, 1, 128, 7], // two queries an invocation, the last one alone
    [1, 3000, 8, 2, 12, 1024], // decode over three pages, keys split into more workgroups, then reduced
  ])
    // Both KV formats with few threads (many queries an invocation, few splits) and with many.
    for (const variant of [...VARIANTS, { choices: { attentionThreads: 256, threads: 4, kvFormat: 'f16' as const } }])
      it(`n=${n} past=${past} nh=${nh} nkv=${nkv} hd=${hd}, pages of ${pageTokens}, q rows of ${qStride}, ${variant.choices.attentionThreads} threads, ${variant.choices.kvFormat} KV`, async () => {
        const gpu = await testGpu(variant);
        const q = randn(n * nh * hd, 1, 0.6);
        // q's rows inside wider ones (the rest is noise the kernel must not read)
        const rows = randn(n * qStride, 7);
        for (let t = 0; t < n; t++) rows.set(q.subarray(t * nh * hd, (t + 1) * nh * hd), t * qStride);
        const total = past + n;
        const format = gpu.choices.kvFormat;
        // The keys and values as the cache holds them: the reference attends over the same numbers.
        const K = asStored(randn(total * nkv * hd, 2, 0.6), format);
        const V = asStored(randn(total * nkv * hd, 3), format);
        const hdp = kvHeadStride(hd);
        // Pages of pageTokens rows of heads padded to quads: the padding and the last page's tail noise
        // (the kernel must ignore the one and stop at the last key).
        const pages = Array.from({ length: Math.ceil(total / pageTokens) }, (_, i) => {
          const page = (X: Float32Array, seed: number) => {
            const data = randn(pageTokens * nkv * hdp, seed);
            for (let r = 0; r < pageTokens && i * pageTokens + r < total; r++)
              for (let h = 0; h < nkv; h++) data.set(X.subarray(((i * pageTokens + r) * nkv + h) * hd, ((i * pageTokens + r) * nkv + h + 1) * hd), (r * nkv + h) * hdp);
            return gpu.upload(kvBytes(data, format), 'kv page');
          };
          return { k: page(K, 50 + i), v: page(V, 90 + i) };
        });
        const splits = attentionSplits(gpu, n, nh, Math.min(pageTokens, total));
        if (past === 3000 && !gpu.choices.threads) expect(splits).toBeGreaterThan(1); // a GPU's: split, then reduced
        const part = gpu.buffer(attentionScratchFloats(n, nh, hd, splits) * 4, 'part');
        const o = gpu.buffer(n * nh * hd * 4, 'o');
        await run(gpu, (rec) => attention(gpu, rec, { q: gpu.upload(rows, 'q'), qStride, pages, pageTokens, part, o, n, past, numHeads: nh, numKvHeads: nkv, headDim: hd }));
        expect(maxAbsDiff(await readF32(gpu, o, n * nh * hd), ref.attention(q, K, V, n, nh, nkv, hd, past))).toBeLessThan(1e-5);
      });

  // Decode's path: ropeAppend's work inside attention. The token's q, k and v come unturned in a q|k|v
  // row; the cache holds the past only, and noise where the token goes.
  for (const [past, nh, nkv, hd, rd, pageTokens, theta] of [
    [0, 4, 2, 12, 8, 16, 1e4], // the first token, channels past rotary_dim
    [70, 6, 2, 16, 16, 256, 1e6], // keys split many ways on a GPU
    [9, 3, 3, 10, 6, 5, 5e5], // the last row of a later page; 3 quads a head, so f16 heads share vec4s
    [3000, 8, 2, 12, 12, 1024, 1e7], // three pages, split into workgroups (on a GPU), then reduced
  ])
    // Both KV formats on both kinds of adapter (a GPU's splits keys, with a reduce pass).
    for (const variant of [...VARIANTS, { choices: { ...VARIANTS[1].choices, kvFormat: 'f32' as const } }])
      it(`appending: past=${past} nh=${nh} nkv=${nkv} hd=${hd} rotary ${rd}, pages of ${pageTokens}, ${variant.choices.attentionThreads} threads, ${variant.choices.kvFormat} KV`, async () => {
        const gpu = await testGpu(variant);
        const format = gpu.choices.kvFormat;
        const f16 = format === 'f16';
        const qw = nh * hd;
        const [kCol, vCol] = [qw + 3, qw + 3 + nkv * hd + 1];
        const row = randn(vCol + nkv * hd + 2, 5, 0.6); // q | noise | k | noise | v | noise
        const cols = (c0: number, width: number) => row.slice(c0, c0 + width);
        const pos = past + 11; // the token's rope position: row 2 of a table from pos - 2
        const q = ref.rope(cols(0, qw), 1, nh, hd, rd, pos, theta);
        const k = ref.rope(cols(kCol, nkv * hd), 1, nkv, hd, rd, pos, theta);
        const v = cols(vCol, nkv * hd);
        const hdp = kvHeadStride(hd);
        const K = asStored(randn(past * nkv * hd, 2, 0.6), format);
        const V = asStored(randn(past * nkv * hd, 3), format);
        const count = Math.ceil((past + 1) / pageTokens);
        const noise = Array.from({ length: count }, (_, i) => [asStored(randn(pageTokens * nkv * hdp, 50 + i), format), asStored(randn(pageTokens * nkv * hdp, 90 + i), format)]);
        const pages = noise.map(([nk, nv], i) => {
          const page = (X: Float32Array, data: Float32Array) => {
            data = data.slice();
            for (let r = 0; r < pageTokens && i * pageTokens + r < past; r++)
              for (let h = 0; h < nkv; h++) data.set(X.subarray(((i * pageTokens + r) * nkv + h) * hd, ((i * pageTokens + r) * nkv + h + 1) * hd), (r * nkv + h) * hdp);
            return data;
          };
          return [page(K, nk), page(V, nv)];
        });
        const buffers = pages.map(([pk, pv]) => ({ k: gpu.upload(kvBytes(pk, format), 'k'), v: gpu.upload(kvBytes(pv, format), 'v') }));
        const splits = attentionSplits(gpu, 1, nh, Math.min(pageTokens, past + 1));
        const part = gpu.buffer(attentionScratchFloats(1, nh, hd, splits) * 4, 'part');
        const o = gpu.buffer(qw * 4, 'o');
        const qBuffer = gpu.upload(row, 'q|k|v');
        const table = gpu.upload(ropeTable(pos - 2, 3, rd, theta), 'cs');
        await run(gpu, (rec) =>
          attention(gpu, rec, { q: qBuffer, pages: buffers, pageTokens, part, o, n: 1, past, numHeads: nh, numKvHeads: nkv, headDim: hd, append: { table, row: 2, kCol, vCol, rotaryDim: rd } }),
        );
        // The token's own key and value count as the cache holds them.
        const all = (X: Float32Array, own: Float32Array) => Float32Array.from([...X, ...asStored(own, format)]);
        expect(maxAbsDiff(await readF32(gpu, o, qw), ref.attention(q, all(K, k), all(V, v), 1, nh, nkv, hd, past))).toBeLessThan(1e-5);
        expect(Array.from(await readF32(gpu, qBuffer, row.length))).toEqual(Array.from(row)); // the row is left as it was
        // Bit for bit what ropeAppend then attention give (prefill and decode agree exactly).
        const apart = pages.map(([pk, pv]) => ({ k: gpu.upload(kvBytes(pk, format), 'k'), v: gpu.upload(kvBytes(pv, format), 'v') }));
        const src = gpu.upload(row, 'q|k|v');
        const o2 = gpu.buffer(qw * 4, 'o');
        await run(gpu, (rec) => {
          ropeAppend(gpu, rec, { src, stride: row.length, kCol, vCol, numHeads: nh, numKvHeads: nkv, headDim: hd, rotaryDim: rd, table, tableRow0: 2, n: 1, pos: past, pages: apart, pageTokens });
          attention(gpu, rec, { q: src, qStride: row.length, pages: apart, pageTokens, part, o: o2, n: 1, past, numHeads: nh, numKvHeads: nkv, headDim: hd });
        });
        expect(Array.from(await readF32(gpu, o, qw))).toEqual(Array.from(await readF32(gpu, o2, qw)));
        const near = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(f16 ? 2 ** -10 * Math.abs(want) + 1e-6 : 1e-5);
        const bytes = pageTokens * nkv * hdp * (f16 ? 2 : 4);
        for (let i = 0; i < count; i++) {
          const [gk, gv] = [kvValues(await gpu.read(buffers[i].k, 0, bytes), format), kvValues(await gpu.read(buffers[i].v, 0, bytes), format)];
          for (let r = 0; r < pageTokens; r++)
            for (let h = 0; h < nkv; h++)
              for (let e = 0; e < hdp; e++) {
                const at = (r * nkv + h) * hdp + e;
                if (i * pageTokens + r !== past) expect([gk[at], gv[at]]).toEqual([pages[i][0][at], pages[i][1][at]]);
                else if (e >= hd) expect([gk[at], gv[at]]).toEqual([0, 0]);
                else {
                  near(gk[at], k[h * hd + e]);
                  near(gv[at], v[h * hd + e]);
                }
              }
        }
      });

  it('a head_dim over the kernel\'s registers is refused', async () => {
    const gpu = await testGpu();
    const b = gpu.buffer(64, 'b');
    expect(() => attention(gpu, gpu.recorder(), { q: b, pages: [{ k: b, v: b }], pageTokens: 4, part: b, o: b, n: 1, past: 0, numHeads: 1, numKvHeads: 1, headDim: 260 })).toThrow(/head_dim 260/);
  });
});
