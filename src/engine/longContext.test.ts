/**
 * A long sequence against the spec's NumPy reference (float64, scripts/make-extra-golden.py long):
 * 16,384 tokens through lightning and softmax layers — many lightning blocks, 17 KV pages of an odd
 * size, 64 prefill chunks — prefilled whole, and prefilled then decoded token by token; and the
 * context limit (max_position_embeddings 16384) refused before any work.
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
  test('prefill: the kept rows within fp32 tolerance', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000, lightningBlock: 48 });
    const t0 = performance.now();
    const got = await model.forward(ids, 'all');
    const { d, compared } = diff(got, 0);
    console.log(`16384-token prefill: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${compared} rows, max|Δlogit| = ${d.toExponential(2)}`);
    expect(compared).toBe(rows.length);
    expect(d).toBeLessThan(TOL);
    model.destroy();
  });

  test('prefill then token-by-token decode: the last rows within tolerance; one more token is refused', async () => {
    const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { kvPageTokens: 1000 });
    const n = ids.length;
    await model.forward(ids.slice(0, n - 6), 'none');
    const out = new Float32Array(6 * V);
    for (let t = n - 6; t < n; t++) out.set(await model.forward([ids[t]], 'last'), (t - n + 6) * V);
    const { d, compared } = diff(out, n - 6);
    console.log(`decode after 16378 tokens: ${compared} rows, max|Δlogit| = ${d.toExponential(2)}`);
    expect(compared).toBe(6);
    expect(d).toBeLessThan(TOL);
    await expect(model.forward([1], 'last')).rejects.toThrow(/a context of 16385 tokens \(16384 fed \+ 1\) is over the model's 16384 \(max_position_embeddings\)/);
    model.destroy();
  });
});
