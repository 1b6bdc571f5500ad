/**
 * A long sequence against the spec's NumPy reference (float64, scripts/make-extra-golden.py long):
 * 16,384 tokens through lightning and softmax layers — 342 lightning blocks, 17 KV pages and 17
 * prefill chunks of 1,000 tokens (neither a multiple of the block) — prefilled, then decoded token by
 * token; and the context limit (max_position_embeddings 16384) refused before any work. Then an f16 KV
 * cache over the first 4,096 tokens.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { nodeGpuDevice } from '../node/gpu';
import { nodeSource } from '../node/source';
import { Model } from './model';

const dir = path.join(fileURLToPath(new URL('.', import.meta.url)), 'golden-extra/long_16k_f32');
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

describe('16,384 tokens', () => {
  test('prefill, then token-by-token decode: the kept rows within fp32 tolerance; one more token is refused', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000, lightningBlock: 48, prefillChunk: 1000, choices: { kvFormat: 'f32' } });
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
    await expect(model.forward([1], 'last')).rejects.toThrow(/a context of 16385 tokens \(16384 fed \+ 1\) is over the model's 16384 \(max_position_embeddings\)/);
    model.destroy();
  });

  test('an f16 KV cache (the choice on GPUs with shader-f16), 4,096 tokens: prefill and decode still within fp32 tolerance', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000, lightningBlock: 48, choices: { kvFormat: 'f16' } });
    const [n, decodeFrom] = [4096, 4070]; // decodes row 4072, one of the kept rows
    const prefilled = diff(await model.forward(ids.slice(0, decodeFrom), 'all'), 0);
    const out = new Float32Array((n - decodeFrom) * V);
    for (let t = decodeFrom; t < n; t++) out.set(await model.forward([ids[t]], 'last'), (t - decodeFrom) * V);
    const decoded = diff(out, decodeFrom);
    console.log(`f16 KV: prefill max|Δlogit| = ${prefilled.d.toExponential(2)} (${prefilled.compared} rows), decode ${decoded.d.toExponential(2)} (${decoded.compared})`);
    expect([prefilled.compared, decoded.compared]).toEqual([rows.filter((r) => r < decodeFrom).length, 1]);
    expect(Math.max(prefilled.d, decoded.d)).toBeLessThan(TOL);
    model.destroy();
  });
});
