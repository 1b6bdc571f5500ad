/**
 * A long sequence against the spec's NumPy reference (float64, scripts/make-extra-golden.py long):
 * 8,192 tokens through lightning and softmax layers — 171 lightning blocks, 9 KV pages of an odd size,
 * 32 prefill chunks — prefilled, then decoded token by token; and the context limit
 * (max_position_embeddings 8192) refused before any work; and the same with an f16 KV cache.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { nodeGpuDevice } from '../node/gpu';
import { nodeSource } from '../node/source';
import { Model } from './model';

const dir = path.join(fileURLToPath(new URL('.', import.meta.url)), 'golden-extra/long_8k_f32');
const TOL = 2e-3; // the golden files' fp32 tolerance
const DECODED = 6;

let ckpt: Checkpoint;
let ids: number[];
let rows: number[];
let want: Float32Array;
let V: number;

beforeAll(async () => {
  ckpt = await openCheckpoint(nodeSource(dir));
  V = ckpt.config.vocabSize;
  ids = Array.from(new Int32Array(new Uint8Array(await readFile(path.join(dir, 'input_ids.bin'))).buffer));
  rows = JSON.parse(await readFile(path.join(dir, 'rows.json'), 'utf8')).rows;
  want = new Float32Array(new Uint8Array(await readFile(path.join(dir, 'logits_rows.bin'))).buffer);
});

/** max |Δ| of the kept rows among `got` (rows from..from + got.length/V of the sequence). */
function diff(got: Float32Array, from: number): { d: number; compared: number } {
  let d = 0;
  let compared = 0;
  rows.forEach((r, i) => {
    if (r < from || r >= from + got.length / V) return;
    compared++;
    for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(got[(r - from) * V + v] - want[i * V + v]));
  });
  return { d, compared };
}

describe('8,192 tokens', () => {
  test('prefill, then token-by-token decode: the kept rows within fp32 tolerance; one more token is refused', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000, lightningBlock: 48 });
    const n = ids.length;
    const t0 = performance.now();
    const prefilled = diff(await model.forward(ids.slice(0, n - DECODED), 'all'), 0);
    console.log(`${n - DECODED}-token prefill: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${prefilled.compared} rows, max|Δlogit| = ${prefilled.d.toExponential(2)}`);
    const out = new Float32Array(DECODED * V);
    for (let t = n - DECODED; t < n; t++) out.set(await model.forward([ids[t]], 'last'), (t - n + DECODED) * V);
    const decoded = diff(out, n - DECODED);
    console.log(`decode after ${n - DECODED} tokens: ${decoded.compared} rows, max|Δlogit| = ${decoded.d.toExponential(2)}`);
    expect(prefilled.compared + decoded.compared).toBe(rows.length);
    expect(decoded.compared).toBe(DECODED);
    expect(prefilled.d).toBeLessThan(TOL);
    expect(decoded.d).toBeLessThan(TOL);
    await expect(model.forward([1], 'last')).rejects.toThrow(/a context of 8193 tokens \(8192 fed \+ 1\) is over the model's 8192 \(max_position_embeddings\)/);
    model.destroy();
  });

  test('an f16 KV cache (the choice on GPUs with shader-f16): prefill and decode still within fp32 tolerance (measured 8.5e-4)', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000, lightningBlock: 48, choices: { kvFormat: 'f16' } });
    const n = ids.length;
    const prefilled = diff(await model.forward(ids.slice(0, n - DECODED), 'all'), 0);
    const out = new Float32Array(DECODED * V);
    for (let t = n - DECODED; t < n; t++) out.set(await model.forward([ids[t]], 'last'), (t - n + DECODED) * V);
    const decoded = diff(out, n - DECODED);
    console.log(`f16 KV: prefill max|Δlogit| = ${prefilled.d.toExponential(2)}, decode ${decoded.d.toExponential(2)}`);
    expect(prefilled.compared + decoded.compared).toBe(rows.length);
    expect(Math.max(prefilled.d, decoded.d)).toBeLessThan(TOL);
    model.destroy();
  });
});
