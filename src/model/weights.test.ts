import { open as fsOpen, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, type ModelConfig } from './config';
import { CheckpointError, indexCheckpoint, type TensorInfo } from './safetensors';
import { memorySource, type ModelSource } from './source';
import { writeSafetensors, zeroTensors } from './writeSafetensors';
import { checkTensors, qweightName, scalesName, expectedTensors } from './weights';

/** A folder on disk, read only where asked (the test models are up to 28 MB). */
function dirSource(dir: string): ModelSource {
  return {
    name: dir,
    async open(p) {
      const full = path.join(dir, p);
      if (!existsSync(full)) return null;
      const fh = await fsOpen(full);
      const { size } = await fh.stat();
      await fh.close();
      return {
        name: p,
        size,
        async read(offset, length) {
          if (offset + length > size) throw new Error(`${p}: read beyond the end`);
          const h = await fsOpen(full);
          try {
            const buf = new Uint8Array(length);
            await h.read(buf, 0, length, offset);
            return buf;
          } finally {
            await h.close();
          }
        },
      };
    },
    async readText(p) {
      const full = path.join(dir, p);
      return existsSync(full) ? readFile(full, 'utf8') : null;
    },
  };
}

const modelDirs = [
  'golden/tiny_pow2_f32',
  'golden/tiny_odd_heads_bf16',
  'models/tiny-hybrid-stories',
  'models/tiny-hybrid-stories/bf16',
  'models/stories260k',
  'models/stories260k/bf16',
  'models/stories260k/fp16',
];

describe('real checkpoints', () => {
  it.each(modelDirs)('%s indexes and passes checkTensors', async (rel) => {
    const src = dirSource(path.join(__SHARED_DIR__, rel));
    const config = parseConfig(JSON.parse((await src.readText('config.json'))!));
    const tensors = await indexCheckpoint(src);
    checkTensors(config, tensors);
    // These files hold exactly the expected tensors.
    const expected = expectedTensors(config);
    expect([...tensors.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const t of tensors.values()) expect(t.file).toBe('model.safetensors');
  });

  it('bf16 checkpoints keep the router gate in F32', async () => {
    const tensors = await indexCheckpoint(dirSource(path.join(__SHARED_DIR__, 'golden/tiny_odd_heads_bf16')));
    expect(tensors.get('model.layers.0.block_sparse_moe.gate.weight')!.dtype).toBe('F32');
    expect(tensors.get('model.layers.0.block_sparse_moe.experts.0.w1.weight')!.dtype).toBe('BF16');
  });
});

const tiny = (extra: Record<string, unknown> = {}): ModelConfig =>
  parseConfig({
    vocab_size: 11, hidden_size: 8, intermediate_size: 6, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
    head_dim: 6, num_local_experts: 3, num_experts_per_tok: 2, attn_type_list: [0, 1], ...extra,
  });

function infos(c: ModelConfig): Map<string, TensorInfo> {
  const m = new Map<string, TensorInfo>();
  for (const [name, { shape }] of expectedTensors(c)) {
    m.set(name, { name, dtype: 'F32', shape, file: 'model.safetensors', offset: 0, byteLength: 4 * shape.reduce((a, d) => a * d, 1) });
  }
  return m;
}

function thrown(f: () => void): CheckpointError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('did not throw');
}

describe('expectedTensors', () => {
  it('lists the MODEL.md §3.2 shapes', () => {
    const s = expectedTensors(tiny());
    expect(s.get('model.embed_tokens.weight')!.shape).toEqual([11, 8]);
    expect(s.get('lm_head.weight')!.shape).toEqual([11, 8]);
    expect(s.get('model.norm.weight')!.shape).toEqual([8]);
    expect(s.get('model.layers.0.self_attn.qkv_proj.weight')!.shape).toEqual([36, 8]);
    expect(s.get('model.layers.0.self_attn.output_gate.weight')!.shape).toEqual([12, 8]);
    expect(s.get('model.layers.0.self_attn.norm.weight')!.shape).toEqual([12]);
    expect(s.get('model.layers.0.self_attn.out_proj.weight')!.shape).toEqual([8, 12]);
    expect(s.has('model.layers.0.self_attn.q_proj.weight')).toBe(false);
    expect(s.get('model.layers.1.self_attn.q_proj.weight')!.shape).toEqual([12, 8]);
    expect(s.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([6, 8]);
    expect(s.get('model.layers.1.self_attn.v_proj.weight')!.shape).toEqual([6, 8]);
    expect(s.get('model.layers.1.self_attn.o_proj.weight')!.shape).toEqual([8, 12]);
    expect(s.has('model.layers.1.self_attn.qkv_proj.weight')).toBe(false);
    expect(s.get('model.layers.1.block_sparse_moe.gate.weight')!.shape).toEqual([3, 8]);
    expect(s.get('model.layers.1.block_sparse_moe.experts.2.w1.weight')!.shape).toEqual([6, 8]);
    expect(s.get('model.layers.1.block_sparse_moe.experts.2.w3.weight')!.shape).toEqual([6, 8]);
    expect(s.get('model.layers.1.block_sparse_moe.experts.2.w2.weight')!.shape).toEqual([8, 6]);
    expect(s.has('model.layers.1.block_sparse_moe.experts.3.w1.weight')).toBe(false);
    expect(s.has('model.layers.0.shared_mlp.gate_proj.weight')).toBe(false);
    // 3 global + 2 layers x (2 norms + 4 attention + gate + 3 experts x 3)
    expect(s.size).toBe(3 + 2 * (2 + 4 + 1 + 9));
  });

  it('no lm_head when tied; shared expert sized by shared_intermediate_size', () => {
    const s = expectedTensors(tiny({ tie_word_embeddings: true, shared_intermediate_size: 5 }));
    expect(s.has('lm_head.weight')).toBe(false);
    expect(s.get('model.layers.1.shared_mlp.gate_proj.weight')!.shape).toEqual([5, 8]);
    expect(s.get('model.layers.1.shared_mlp.up_proj.weight')!.shape).toEqual([5, 8]);
    expect(s.get('model.layers.1.shared_mlp.down_proj.weight')!.shape).toEqual([8, 5]);
    expect(s.get('model.layers.1.coefficient.weight')!.shape).toEqual([1, 8]);
  });
});

describe('checkTensors', () => {
  it('accepts a complete checkpoint and ignores extra tensors', () => {
    const m = infos(tiny());
    m.set('model.layers.0.self_attn.slope_rate', { name: 'x', dtype: 'F32', shape: [2, 1, 1], file: 'model.safetensors', offset: 0, byteLength: 8 });
    expect(() => checkTensors(tiny(), m)).not.toThrow();
  });

  it('names a missing tensor and its file', () => {
    const m = infos(tiny());
    m.delete('model.layers.1.block_sparse_moe.experts.2.w3.weight');
    const e = thrown(() => checkTensors(tiny(), m));
    expect(e.tensor).toBe('model.layers.1.block_sparse_moe.experts.2.w3.weight');
    expect(e.message).toBe('model.safetensors: tensor "model.layers.1.block_sparse_moe.experts.2.w3.weight" is missing');
  });

  it('prints both shapes for a wrong shape, and counts further problems', () => {
    const m = infos(tiny());
    const t = m.get('model.layers.0.self_attn.out_proj.weight')!;
    m.set(t.name, { ...t, shape: [12, 8] });
    m.delete('model.layers.1.self_attn.o_proj.weight');
    const e = thrown(() => checkTensors(tiny(), m));
    expect(e.message).toBe(
      'model.safetensors: tensor "model.layers.0.self_attn.out_proj.weight" has shape [12, 8], expected [8, 12] (and 1 more problems)',
    );
    m.set(t.name, { ...t, shape: [8, 12, 1] });
    expect(() => checkTensors(tiny(), m)).toThrow(/has shape \[8, 12, 1\], expected \[8, 12\]/);
  });

  it('lm_head missing when not tied', () => {
    const m = infos(tiny());
    m.delete('lm_head.weight');
    expect(thrown(() => checkTensors(tiny(), m)).message).toMatch(/tensor "lm_head.weight" is missing \(tie_word_embeddings is false/);
    expect(() => checkTensors(tiny({ tie_word_embeddings: true }), m)).not.toThrow();
  });

  it('an empty checkpoint', () => {
    expect(thrown(() => checkTensors(tiny(), new Map())).message).toMatch(/^the checkpoint: tensor "model.embed_tokens.weight" is missing \(and \d+ more problems\)$/);
  });

  it('a generated checkpoint split into two shards', async () => {
    const c = tiny();
    const all = zeroTensors(expectedTensors(c), 'BF16');
    const names = Object.keys(all);
    const half = names.length >> 1;
    const shard = (ns: string[]) => writeSafetensors(Object.fromEntries(ns.map((n) => [n, all[n]])));
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap = Object.fromEntries(names.map((n, i) => [n, files[i < half ? 0 : 1]]));
    const src = memorySource('mem', {
      'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
      [files[0]]: shard(names.slice(0, half)),
      [files[1]]: shard(names.slice(half)),
    });
    const tensors = await indexCheckpoint(src);
    checkTensors(c, tensors);
    expect(new Set([...tensors.values()].map((t) => t.file))).toEqual(new Set(files));

    tensors.delete(names[0]);
    expect(() => checkTensors(c, tensors)).toThrow(`model.safetensors.index.json: tensor "${names[0]}" is missing`);
  });
});

describe('checkTensors on a pre-quantized checkpoint (lightmoe quantize)', () => {
  const q4 = () => tiny({ quantization_config: { quant_method: 'lightmoe', bits: 4, block_size: 16 } });
  const name = 'model.layers.0.self_attn.out_proj.weight'; // [8, 12]: blocks of 16 → one block, 8 bytes of nibbles a row
  /** The tiny checkpoint with `name` replaced by its int4 data and scales. */
  function quantized(data: Partial<TensorInfo> = {}, scales: Partial<TensorInfo> = {}): Map<string, TensorInfo> {
    const m = infos(q4());
    m.delete(name);
    const at = { file: 'model.safetensors', offset: 0 };
    m.set(qweightName(name), { name: qweightName(name), dtype: 'U8', shape: [8, 8], byteLength: 64, ...at, ...data });
    m.set(scalesName(name), { name: scalesName(name), dtype: 'F16', shape: [8, 1, 2], byteLength: 32, ...at, ...scales });
    return m;
  }

  it('finds the quantized matrix, its format and its shape', () => {
    const found = checkTensors(q4(), quantized());
    expect([...found.keys()]).toEqual([name]);
    expect(found.get(name)).toMatchObject({ format: 'int4', shape: [8, 12], data: { name: qweightName(name) }, scales: { name: scalesName(name) } });
  });

  it('refuses data or scales of the wrong shape or dtype, naming the tensor', () => {
    expect(thrown(() => checkTensors(q4(), quantized({ shape: [8, 6] }))).message).toBe(
      `model.safetensors: tensor "${qweightName(name)}" is U8 [8, 6], expected U8 [8, 8] for int4 ${name} [8, 12]`,
    );
    expect(thrown(() => checkTensors(q4(), quantized({ dtype: 'I8' }))).tensor).toBe(qweightName(name));
    expect(thrown(() => checkTensors(q4(), quantized({}, { shape: [8, 2, 2] }))).message).toMatch(/tensor ".*out_proj.scales" is F16 \[8, 2, 2\], expected F16 \[8, 1, 2\]: one \(scale, minimum\) pair per block/);
    expect(thrown(() => checkTensors(q4(), quantized({}, { dtype: 'BF16' }))).tensor).toBe(scalesName(name));
    const m = quantized();
    m.delete(scalesName(name));
    expect(thrown(() => checkTensors(q4(), m)).message).toMatch(/out_proj.scales" is missing: .*out_proj.qweight needs its block scales/);
  });

  it('refuses quantized data without quantization_config, a matrix held twice, and integer dtypes elsewhere', () => {
    expect(thrown(() => checkTensors(tiny(), quantized())).message).toMatch(/out_proj.qweight" is quantized data, but config.json has no quantization_config/);
    const both = quantized();
    both.set(name, infos(q4()).get(name)!);
    expect(thrown(() => checkTensors(q4(), both)).message).toMatch(/out_proj.weight" is there as well as its quantized form/);
    const ints = infos(tiny());
    const norm = ints.get('model.norm.weight')!;
    ints.set(norm.name, { ...norm, dtype: 'U8' });
    expect(thrown(() => checkTensors(tiny(), ints)).message).toMatch(/model.norm.weight" has dtype U8: weights are F32, F16 or BF16/);
  });
});
