import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseConfig, type ModelConfig } from '../model/config';
import { sequenceBytes } from '../engine/memory';
import { layerCost, endsCost, planPlacement, splitLayers, type ExecutorSpec } from './plan';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
const GiB = 2 ** 30;
const m1 = async (): Promise<ModelConfig> => parseConfig(JSON.parse(await readFile(path.join(shared, 'spec/minimax-m1-config.json'), 'utf8')));
const dev = (name: string, gib: number, bw = 300e9): ExecutorSpec => ({ name, kind: 'device', bytes: gib * GiB, bandwidth: bw });

describe('plan', () => {
  test("MiniMax-M1's config: 456B parameters, 45.9B of its layers' active a token (MiniMax's own figures)", async () => {
    const c = await m1();
    const costs = c.layerKinds.map((_, i) => layerCost(c, i, { stored: 'f32' }));
    const ends = endsCost(c, { stored: 'f32' });
    const params = (costs.reduce((s, l) => s + l.weights, 0) + ends.embed + ends.head) / 4;
    expect(params / 456e9).toBeCloseTo(1, 2);
    // The 45.9B leave out the embedding and the head.
    expect(costs.reduce((s, l) => s + l.active, 0) / 4 / 45.9e9).toBeCloseTo(1, 2);
  });

  test("MiniMax-M1 at 1M tokens: 280 MiB of lightning state, 40 KiB of KV a token in f16 (80 in f32)", async () => {
    const c = await m1();
    // 70 lightning layers × 64 heads × 128² f32; 10 softmax layers × K and V × 8 kv heads × 128 halves.
    const f16 = sequenceBytes(c, 1 << 20, 'f16');
    expect(f16.lightningState).toBe(280 * 2 ** 20);
    expect(f16.kvPerToken).toBe(40 * 1024);
    expect(f16.kv).toBe(40 * 2 ** 30);
    expect(sequenceBytes(c, 1 << 20, 'f32').kvPerToken).toBe(80 * 1024);
    // The plan holds the same: its layers' state at a context is the accounting's.
    for (const kv of ['f16', 'f32'] as const) {
      const state = c.layerKinds.reduce((s, _, i) => s + layerCost(c, i, { context: 1 << 20, kv }).state, 0);
      const want = sequenceBytes(c, 1 << 20, kv);
      expect(state).toBe(want.lightningState + want.kv);
    }
  });

  test('contiguous ranges in executor order, each within its memory, shares in proportion', async () => {
    const c = await m1();
    const p = planPlacement(c, [dev('a', 96), dev('b', 192), dev('c', 96), dev('d', 96)], { quantize: 'int4', context: 1 << 20 });
    expect(p.fits).toBe(true);
    let next = 0;
    for (const x of p.placements) {
      expect(x.layers!.from).toBe(next);
      next = x.layers!.to;
      expect(x.weights + x.state).toBeLessThanOrEqual(x.executor.bytes);
    }
    expect(next).toBe(c.numLayers);
    const counts = p.placements.map((x) => x.layers!.to - x.layers!.from);
    expect(Math.abs(counts[1] - 2 * counts[0])).toBeLessThanOrEqual(2);
    expect(p.tokensPerSecond).toBeGreaterThan(0);
  });

  test('short memory: every layer is placed and the shortfall is what is missing', async () => {
    const c = await m1();
    const p = planPlacement(c, [dev('a', 24), dev('b', 16)], { quantize: 'int4' });
    expect(p.fits).toBe(false);
    const held = p.placements.reduce((s, x) => s + x.weights + x.state, 0);
    const capacity = 40 * GiB;
    // Each executor's excess is counted: at least the whole excess, and every layer placed.
    expect(p.shortfall).toBeGreaterThanOrEqual(held - capacity);
    expect(p.placements.map((x) => x.layers)).toEqual([expect.objectContaining({ from: 0 }), expect.objectContaining({ to: 80 })]);
  });

  test('more executors than layers: each layer once, spare executors idle', () => {
    const c = { ...({} as ModelConfig), vocabSize: 10, hiddenSize: 8, numLayers: 3, numHeads: 2, numKvHeads: 1, headDim: 4, layerKinds: ['lightning', 'softmax', 'lightning'], intermediateSize: 16, numExperts: 2, expertsPerToken: 1, sharedIntermediateSize: 0, tieWordEmbeddings: true } as ModelConfig;
    const p = planPlacement(c, [dev('a', 1), dev('b', 1), dev('c', 1), dev('d', 1)]);
    expect(p.placements.map((x) => x.layers)).toEqual([{ from: 0, to: 1 }, { from: 1, to: 2 }, { from: 2, to: 3 }, null]);
  });

  test('splitLayers: parts of about equal bytes, on odd counts', async () => {
    const c = await m1();
    for (const [from, to, parts] of [[0, 80, 3], [5, 12, 7], [3, 4, 2], [0, 7, 5]]) {
      const r = splitLayers(c, { from, to }, parts);
      expect(r[0].from).toBe(from);
      expect(r[r.length - 1].to).toBe(to);
      for (let i = 1; i < r.length; i++) expect(r[i].from).toBe(r[i - 1].to);
      expect(r.length).toBe(Math.min(parts, to - from));
      for (const x of r) expect(x.to).toBeGreaterThan(x.from);
    }
    const sizes = splitLayers(c, { from: 0, to: 80 }, 3).map((x) => x.to - x.from);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2);
  });
});

describe('plan: the ends', () => {
  const small = (tied: boolean) =>
    ({ vocabSize: 1000, hiddenSize: 64, numLayers: 4, numHeads: 2, numKvHeads: 1, headDim: 32, layerKinds: ['lightning', 'lightning', 'lightning', 'softmax'], intermediateSize: 64, numExperts: 2, expertsPerToken: 1, sharedIntermediateSize: 0, tieWordEmbeddings: tied }) as ModelConfig;
  test('a tied head on another executor holds the table again, and every token reads it', () => {
    const c = small(true);
    const p = planPlacement(c, [dev('a', 1), dev('b', 1)], { stored: 'f32' });
    const table = c.vocabSize * c.hiddenSize * 4;
    const layers = c.layerKinds.map((_, i) => layerCost(c, i, { stored: 'f32' }));
    const held = p.placements.reduce((s, x) => s + x.weights, 0);
    expect(held).toBe(layers.reduce((s, l) => s + l.weights, 0) + 2 * table + c.hiddenSize * 4);
    expect(p.placements[1].active).toBeGreaterThan(table);
  });
  test('the embedding goes where layer 0 goes', () => {
    const c = small(false);
    // The first executor cannot hold the embedding table at all: layer 0 and the table move on together.
    const p = planPlacement(c, [{ name: 'tiny', kind: 'device', bytes: 1000, bandwidth: 1e9 }, dev('b', 1)], { stored: 'f32' });
    expect(p.placements[0].layers).toBeNull();
    expect(p.placements[0].weights).toBe(0);
    expect(p.placements[1].layers).toEqual({ from: 0, to: 4 });
  });
});
