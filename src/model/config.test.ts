import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type ModelConfig } from './config';

const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

/** The reference's normalize_config output, in ModelConfig terms. */
function fromReference(n: Record<string, unknown>): Partial<ModelConfig> {
  return {
    vocabSize: n.vocab_size as number,
    hiddenSize: n.hidden_size as number,
    intermediateSize: n.intermediate_size as number,
    numLayers: n.num_hidden_layers as number,
    numHeads: n.num_attention_heads as number,
    numKvHeads: n.num_key_value_heads as number,
    headDim: n.head_dim as number,
    ropeTheta: n.rope_theta as number,
    rotaryDim: n.rotary_dim as number,
    layerKinds: (n.attn_type_list as number[]).map((t) => (t === 0 ? 'lightning' : 'softmax')),
    linearAlpha: n.linear_alpha as number,
    linearBeta: n.linear_beta as number,
    fullAlpha: n.full_alpha as number,
    fullBeta: n.full_beta as number,
    mlpAlpha: n.mlp_alpha as number,
    mlpBeta: n.mlp_beta as number,
    postnorm: n.postnorm as boolean,
    rmsNormEps: n.rms_norm_eps as number,
    numExperts: n.num_local_experts as number,
    expertsPerToken: n.num_experts_per_tok as number,
    sharedIntermediateSize: n.shared_intermediate_size as number,
    tieWordEmbeddings: n.tie_word_embeddings as boolean,
  };
}

const goldenDir = path.join(__SHARED_DIR__, 'golden');
const goldenCases = readdirSync(goldenDir).filter((d) => existsSync(path.join(goldenDir, d, 'manifest.json')));

describe('real configs', () => {
  it('finds the golden cases', () => expect(goldenCases.length).toBeGreaterThanOrEqual(2));

  it.each(goldenCases)('golden %s matches the reference normalized_config', (name) => {
    const c = parseConfig(readJson(path.join(goldenDir, name, 'config.json')));
    const manifest = readJson(path.join(goldenDir, name, 'manifest.json')) as { normalized_config: Record<string, unknown> };
    expect(c).toMatchObject(fromReference(manifest.normalized_config));
    expect(c.blockSize).toBeNull();
    expect(c.modelType).toMatch(/^minimax_/);
  });

  it('tiny-hybrid-stories (both spellings present)', () => {
    const dir = path.join(__SHARED_DIR__, 'models/tiny-hybrid-stories');
    for (const file of ['config.json', 'bf16/config.json']) {
      const c = parseConfig(readJson(path.join(dir, file)));
      expect(c).toMatchObject({
        vocabSize: 512, hiddenSize: 128, numLayers: 8, numHeads: 4, numKvHeads: 2, headDim: 32, rotaryDim: 16,
        ropeTheta: 10000, postnorm: true, linearAlpha: 2, mlpBeta: 1, numExperts: 8, expertsPerToken: 2,
        intermediateSize: 256, blockSize: 256, modelType: 'minimax', tieWordEmbeddings: false, sharedIntermediateSize: 0,
      });
      expect(c.layerKinds.map((k) => (k === 'lightning' ? 0 : 1))).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    }
  });

  it('stories260k: model_type minimax with an explicit postnorm false', () => {
    for (const file of ['config.json', 'bf16/config.json', 'fp16/config.json']) {
      const c = parseConfig(readJson(path.join(__SHARED_DIR__, 'models/stories260k', file)));
      expect(c).toMatchObject({ numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, rotaryDim: 8, postnorm: false, numExperts: 1, expertsPerToken: 1 });
      expect(c.layerKinds).toEqual(Array(5).fill('softmax'));
    }
  });
});

const base = () => ({
  vocab_size: 100,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_local_experts: 4,
  attn_type_list: [0, 1, 0],
});

describe('defaults and alternative names', () => {
  it('fills the MiniMax defaults', () => {
    expect(parseConfig(base())).toEqual({
      vocabSize: 100, hiddenSize: 32, numLayers: 3, numHeads: 4, numKvHeads: 4, headDim: 8, rotaryDim: 8, ropeTheta: 1e6,
      layerKinds: ['lightning', 'softmax', 'lightning'], linearAlpha: 1, linearBeta: 1, fullAlpha: 1, fullBeta: 1, mlpAlpha: 1, mlpBeta: 1,
      postnorm: false, rmsNormEps: 1e-5, intermediateSize: 48, numExperts: 4, expertsPerToken: 2, sharedIntermediateSize: 0,
      tieWordEmbeddings: false, blockSize: null, maxPositions: null, modelType: null, quantization: null,
    });
  });

  it('null num_key_value_heads means num_attention_heads; head_dim 0 means absent', () => {
    expect(parseConfig({ ...base(), num_key_value_heads: null, head_dim: 0 })).toMatchObject({ numKvHeads: 4, headDim: 8 });
  });

  it('postnorm: absent → false, except the transformers port (model_type minimax) → true', () => {
    expect(parseConfig({ ...base(), model_type: 'minimax_m1' }).postnorm).toBe(false);
    expect(parseConfig({ ...base(), model_type: 'minimax' }).postnorm).toBe(true);
    expect(parseConfig({ ...base(), model_type: 'minimax', postnorm: false }).postnorm).toBe(false);
    expect(parseConfig({ ...base(), postnorm: true }).postnorm).toBe(true);
  });

  it('transformers-port names', () => {
    const { attn_type_list: _, ...rest } = base();
    const c = parseConfig({
      ...rest,
      head_dim: 16,
      layer_types: ['full_attention', 'linear_attention', 'full_attention', 'linear_attention'],
      linear_attn_alpha_factor: 2, linear_attn_beta_factor: 3, full_attn_alpha_factor: 4, full_attn_beta_factor: 5,
      mlp_alpha_factor: 6, mlp_beta_factor: 7,
      rope_parameters: { rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 0.25 },
      block_size: 128,
    });
    expect(c).toMatchObject({
      layerKinds: ['softmax', 'lightning', 'softmax'], linearAlpha: 2, linearBeta: 3, fullAlpha: 4, fullBeta: 5, mlpAlpha: 6, mlpBeta: 7,
      ropeTheta: 5000, rotaryDim: 4, blockSize: 128,
    });
  });

  it('original names win over port names; top-level rope fields over rope_parameters', () => {
    const c = parseConfig({
      ...base(), layernorm_mlp_alpha: 2.5, mlp_alpha_factor: 9, rope_theta: 1e7, rope_parameters: { rope_theta: 1 }, rotary_dim: 4,
      partial_rotary_factor: 0.5, layer_types: ['full_attention', 'full_attention', 'full_attention'], block: 64,
    });
    expect(c).toMatchObject({ mlpAlpha: 2.5, ropeTheta: 1e7, rotaryDim: 4, layerKinds: ['lightning', 'softmax', 'lightning'], blockSize: 64 });
  });

  it('attn_type_list longer than num_hidden_layers is cut; swish is silu', () => {
    expect(parseConfig({ ...base(), attn_type_list: [1, 1, 1, 0, 0], hidden_act: 'swish' }).layerKinds).toEqual(['softmax', 'softmax', 'softmax']);
  });
});

describe('bad configs', () => {
  const cases: [string, unknown, string][] = [
    ['missing vocab_size', { ...base(), vocab_size: undefined }, 'vocab_size'],
    ['missing hidden_size', { ...base(), hidden_size: null }, 'hidden_size'],
    ['missing num_local_experts', { ...base(), num_local_experts: undefined }, 'num_local_experts'],
    ['string size', { ...base(), num_attention_heads: 'abc' }, 'num_attention_heads'],
    ['fractional size', { ...base(), intermediate_size: 47.5 }, 'intermediate_size'],
    ['zero layers', { ...base(), num_hidden_layers: 0 }, 'num_hidden_layers'],
    ['negative head_dim', { ...base(), head_dim: -8 }, 'head_dim'],
    ['no layer pattern', { ...base(), attn_type_list: undefined }, 'attn_type_list'],
    ['pattern not an array', { ...base(), attn_type_list: '0,1,0' }, 'attn_type_list'],
    ['pattern too short', { ...base(), attn_type_list: [0, 1] }, 'attn_type_list'],
    ['pattern value 2', { ...base(), attn_type_list: [0, 1, 2] }, 'attn_type_list[2]'],
    ['pattern value "1"', { ...base(), attn_type_list: [0, '1', 0] }, 'attn_type_list[1]'],
    ['bad layer_types', { ...base(), attn_type_list: undefined, layer_types: ['linear_attention', 'sliding', 'full_attention'] }, 'layer_types[1]'],
    ['heads not a multiple of kv heads', { ...base(), num_key_value_heads: 3 }, 'num_key_value_heads'],
    ['odd rotary_dim', { ...base(), rotary_dim: 5 }, 'rotary_dim'],
    ['GPTQ quantization_config', { ...base(), quantization_config: { quant_method: 'gptq', bits: 4 } }, 'quantization_config.quant_method'],
    ['quantization_config of 3 bits', { ...base(), quantization_config: { quant_method: 'lightmoe', bits: 3, block_size: 16 } }, 'quantization_config.bits'],
    ['int4 blocks of 32', { ...base(), quantization_config: { quant_method: 'lightmoe', bits: 4, block_size: 32 } }, 'quantization_config.block_size'],
    ['quantization_config not an object', { ...base(), quantization_config: 'int4' }, 'quantization_config'],
    ['rotary_dim > head_dim', { ...base(), rotary_dim: 10 }, 'rotary_dim'],
    ['rotary_dim 0', { ...base(), rotary_dim: 0 }, 'rotary_dim'],
    ['partial_rotary_factor giving an odd dim', { ...base(), partial_rotary_factor: 0.375 }, 'partial_rotary_factor'],
    ['partial_rotary_factor > 1', { ...base(), rope_parameters: { partial_rotary_factor: 2 } }, 'rope_parameters.partial_rotary_factor'],
    ['top-k > experts', { ...base(), num_experts_per_tok: 5 }, 'num_experts_per_tok'],
    ['top-k 0', { ...base(), num_experts_per_tok: 0 }, 'num_experts_per_tok'],
    ['rope_theta 0', { ...base(), rope_theta: 0 }, 'rope_theta'],
    ['rope_theta string', { ...base(), rope_theta: 'big' }, 'rope_theta'],
    ['rope_parameters.rope_theta negative', { ...base(), rope_parameters: { rope_theta: -1 } }, 'rope_parameters.rope_theta'],
    ['rms_norm_eps 0', { ...base(), rms_norm_eps: 0 }, 'rms_norm_eps'],
    ['rms_norm_eps Infinity', { ...base(), rms_norm_eps: Infinity }, 'rms_norm_eps'],
    ['hidden not divisible by heads without head_dim', { ...base(), hidden_size: 30 }, 'head_dim'],
    ['absurd dimension', { ...base(), hidden_size: 2 ** 32 }, 'hidden_size'],
    ['absurd embedding', { ...base(), vocab_size: 2 ** 30, hidden_size: 2 ** 12 }, 'vocab_size'],
    ['absurd head_dim', { ...base(), head_dim: 2 ** 30 }, 'head_dim'],
    ['hidden_act gelu', { ...base(), hidden_act: 'gelu' }, 'hidden_act'],
    ['shared expert with softmax mode', { ...base(), shared_intermediate_size: 16, shared_moe_mode: 'softmax' }, 'shared_moe_mode'],
    ['negative shared_intermediate_size', { ...base(), shared_intermediate_size: -1 }, 'shared_intermediate_size'],
    ['postnorm as a string', { ...base(), postnorm: 'true' }, 'postnorm'],
    ['tie_word_embeddings as a number', { ...base(), tie_word_embeddings: 1 }, 'tie_word_embeddings'],
    ['alpha not a number', { ...base(), layernorm_mlp_alpha: '1.5' }, 'layernorm_mlp_alpha'],
    ['block_size 0', { ...base(), block_size: 0 }, 'block_size'],
    ['rope_parameters not an object', { ...base(), rope_parameters: 5 }, 'rope_parameters'],
  ];

  it.each(cases)('%s', (_, json, field) => {
    let err: unknown;
    try {
      parseConfig(json, 'cfg/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.field).toBe(field);
    expect(ce.file).toBe('cfg/config.json');
    expect(ce.message).toContain(`cfg/config.json: field "${field}"`);
  });

  it('quotes the offending value', () => {
    expect(() => parseConfig({ ...base(), num_attention_heads: 'abc' })).toThrow(
      'config.json: field "num_attention_heads": must be a positive integer, got "abc"',
    );
  });

  it.each([[[1, 2]], [null], ['{}'], [42]])('refuses a top level of %j', (json) => {
    expect(() => parseConfig(json)).toThrow(/config\.json: the top level must be a JSON object/);
  });

  it('a shared expert in sigmoid mode is fine', () => {
    expect(parseConfig({ ...base(), shared_intermediate_size: 16, shared_moe_mode: 'sigmoid' }).sharedIntermediateSize).toBe(16);
  });
});
