/**
 * The embedded default model: a tiny MiniMax-M1-architecture checkpoint (lightning layers with a softmax
 * layer, GQA with partial RoPE, 8 experts top-2, postnorm with α = (2L)^¼, BF16 weights with F32 router
 * gates as in the released checkpoints), made from a fixed seed so that every machine makes the same bytes.
 * Its weights are random: it runs the whole architecture, it does not write sensible text.
 * The tokenizer is bytes with fallback: ids 3 … 258 are the bytes 0x00 … 0xFF.
 */
import { encode } from './dtype';
import { parseConfig } from './config';
import { randn } from './random';
import { expectedTensors } from './weights';
import { writeSafetensors, type TensorData } from './writeSafetensors';
import m1ChatTemplate from '../text/minimax-m1-chat-template.jinja?raw';

/**
 * MiniMax-M1's own chat template, whose generation prompt also opens <think>: M1 writes <think> itself,
 * random weights never would, and this way a reply of the default model shows the reasoning path and
 * the thinking budget at work (the budget closes the block; the answer follows).
 */
const M1_PROMPT_END = "{{ '<beginning_of_sentence>ai name=assistant\\n' -}}{%- endif -%}";
if (!m1ChatTemplate.trimEnd().endsWith(M1_PROMPT_END)) throw new Error('minimax-m1-chat-template.jinja: its generation prompt is not where it was');
export const DEFAULT_CHAT_TEMPLATE = m1ChatTemplate.trimEnd().slice(0, -M1_PROMPT_END.length) + "{{ '<beginning_of_sentence>ai name=assistant\\n<think>\\n' -}}{%- endif -%}";

const LAYERS = 4;
const alpha = (2 * LAYERS) ** 0.25;

export const DEFAULT_CONFIG = {
  architectures: ['MiniMaxM1ForCausalLM'],
  model_type: 'minimax_m1',
  vocab_size: 259,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: LAYERS,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  rotary_dim: 8,
  rope_theta: 10000000.0,
  attn_type_list: [0, 0, 0, 1],
  layernorm_linear_attention_alpha: alpha,
  layernorm_linear_attention_beta: 1.0,
  layernorm_full_attention_alpha: alpha,
  layernorm_full_attention_beta: 1.0,
  layernorm_mlp_alpha: alpha,
  layernorm_mlp_beta: 1.0,
  postnorm: true,
  rms_norm_eps: 1e-5,
  num_local_experts: 8,
  num_experts_per_tok: 2,
  shared_intermediate_size: 0,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  max_position_embeddings: 1048576,
  bos_token_id: 1,
  eos_token_id: 2,
};

function tokenizerJson(): object {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: [] },
  };
}

/** Every file of the default model folder. */
export function makeDefaultModel(): Record<string, Uint8Array | string> {
  const c = parseConfig(DEFAULT_CONFIG);
  const hs = c.hiddenSize;
  const tensors: Record<string, TensorData> = {};
  let seed = 20261130;
  for (const [name, { shape }] of expectedTensors(c)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 1];
    let values: Float32Array;
    if (shape.length === 1) values = randn(count, seed++, 0.15).map((v) => 1 + v); // norm weights near 1
    else if (name === 'model.embed_tokens.weight') values = randn(count, seed++);
    else if (name === 'lm_head.weight') values = randn(count, seed++, 2.5 / Math.sqrt(hs));
    else if (name.endsWith('gate.weight')) values = randn(count, seed++, 1.5 / Math.sqrt(hs));
    else values = randn(count, seed++, 1 / Math.sqrt(fanIn));
    const dtype = name.endsWith('block_sparse_moe.gate.weight') ? 'F32' : 'BF16';
    tensors[name] = { dtype, shape, data: encode(values, dtype) };
  }
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  return {
    'config.json': json(DEFAULT_CONFIG),
    'generation_config.json': json({ bos_token_id: 1, eos_token_id: 2, do_sample: false }),
    'tokenizer.json': json(tokenizerJson()),
    'tokenizer_config.json': json({ tokenizer_class: 'PreTrainedTokenizerFast', add_bos_token: true, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', chat_template: DEFAULT_CHAT_TEMPLATE }),
    'model.safetensors': writeSafetensors(tensors, { format: 'pt', generator: 'lightmoe makeDefaultModel' }),
  };
}
