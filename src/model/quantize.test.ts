import { describe, expect, it } from 'vitest';
import { dequantize, isQuantized, QUANT_BLOCK, quantize, quantRow } from './quantize';
import { randn } from './random';

describe('block quantization', () => {
  for (const [rows, k] of [[1, 1], [3, 31], [5, 33], [2, 100]])
    it(`int8 and int4 round trips of [${rows}, ${k}] stay within half a step of each block`, () => {
      const w = randn(rows * k, rows * k, 1);
      for (const format of ['int8', 'int4'] as const) {
        const back = dequantize(quantize(w, rows, k, format, 't'), rows, k, format);
        const B = QUANT_BLOCK[format];
        for (let r = 0; r < rows; r++)
          for (let b = 0; b * B < k; b++) {
            const block = Array.from({ length: Math.min(B, k - b * B) }, (_, i) => w[r * k + b * B + i]);
            const step = format === 'int8' ? Math.max(...block.map(Math.abs)) / 127 : (Math.max(...block) - Math.min(...block)) / 15;
            for (let i = 0; i < block.length; i++) expect(Math.abs(back[r * k + b * B + i] - block[i])).toBeLessThanOrEqual(step * 0.5 + 1e-3 * Math.abs(block[i]) + 1e-7);
          }
      }
    });

  it('a constant block is exact; int4 keeps a block of equal negative values', () => {
    const w = new Float32Array(40).fill(-0.25);
    expect(Array.from(dequantize(quantize(w, 1, 40, 'int4', 't'), 1, 40, 'int4'))).toEqual(Array.from(w));
    expect(Array.from(dequantize(quantize(new Float32Array(40), 1, 40, 'int8', 't'), 1, 40, 'int8'))).toEqual(new Array(40).fill(0));
  });

  it('row-major form: whole blocks per row (32 elements for int8, 16 for int4), a scale word per block', () => {
    expect(quantRow('int4', 33)).toEqual({ blocks: 3, words: 6 });
    expect(quantRow('int8', 64)).toEqual({ blocks: 2, words: 16 });
    const q = quantize(Float32Array.of(1, -1, 0.5, 0, 0, 0, 0, 0, 0.25), 1, 9, 'int8', 't');
    expect([q.data.length, q.scales.length]).toEqual([8, 1]);
    expect(q.data[0]).toBe(127 | ((-127 & 0xff) << 8) | (64 << 16)); // bytes 127, -127, 64 (0.5·127 rounds to 64), 0
    expect(q.data[2]).toBe(32); // element 8: 0.25·127 = 31.75 → 32
  });

  it('refuses a non-finite weight and a scale beyond f16, naming the tensor and the element', () => {
    const w = randn(64, 1);
    w[37] = NaN;
    expect(() => quantize(w, 2, 32, 'int8', 'model.layers.0.self_attn.q_proj.weight')).toThrow('model.layers.0.self_attn.q_proj.weight: weight [1, 5] is NaN');
    expect(() => quantize(Float32Array.of(0, 1e9), 1, 2, 'int8', 'lm_head.weight')).toThrow(/lm_head\.weight: row 0 block 0: .*f16/);
  });

  it('quantizes attention and expert matrices, not norms, router gates, the coefficient or the embedding', () => {
    for (const n of ['model.layers.3.self_attn.qkv_proj.weight', 'model.layers.0.self_attn.o_proj.weight', 'model.layers.2.block_sparse_moe.experts.31.w2.weight', 'model.layers.1.shared_mlp.up_proj.weight'])
      expect(isQuantized(n), n).toBe(true);
    for (const n of ['model.norm.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.norm.weight', 'model.layers.0.block_sparse_moe.gate.weight', 'model.layers.0.coefficient.weight', 'model.embed_tokens.weight', 'lm_head.weight'])
      expect(isQuantized(n), n).toBe(false);
  });
});
