/**
 * A model folder whose greedy output follows a script, for testing what the engine does with text:
 * reasoning, thinking budget, tool calls, stops. Every layer's branches are zeroed (out_proj, w2 = 0,
 * postnorm off, α = β = 1), so the residual stream stays the one-hot embedding of the current token and
 * lm_head row j holds the one-hot of the tokens that j follows: next(id) is a lookup table, computed by
 * the real engine on the real GPU. The tokenizer maps each piece of text to one token.
 */
import { encode } from '../../model/dtype';
import { parseConfig } from '../../model/config';
import { randn } from '../../model/random';
import { expectedTensors } from '../../model/weights';
import { writeSafetensors, type TensorData } from '../../model/writeSafetensors';

export const PIECES = [
  '<unk>', '<s>', '</s>', '<think>', 'Let me look', ' it up.', '</think>', '<tool_calls>\n',
  '{"name": "get_weather", "arguments": {"city": "Paris"}}', '\n</tool_calls>', 'Hello', ' world', '\n', '\n\n',
] as const;
const id = (p: (typeof PIECES)[number]) => PIECES.indexOf(p);

/** next token after each token (greedy): <s> or <unk> → <think> … </tool_calls> → </s>; "\n\n" → Hello world </s>. */
export const SCRIPT: [string, string][] = [
  ['<unk>', '<think>'],
  ['<s>', '<think>'],
  ['<think>', 'Let me look'],
  ['Let me look', ' it up.'],
  [' it up.', '</think>'],
  ['</think>', '<tool_calls>\n'],
  ['<tool_calls>\n', '{"name": "get_weather", "arguments": {"city": "Paris"}}'],
  ['{"name": "get_weather", "arguments": {"city": "Paris"}}', '\n</tool_calls>'],
  ['\n</tool_calls>', '</s>'],
  ['\n\n', 'Hello'],
  ['Hello', ' world'],
  [' world', '</s>'],
];

export function makeScriptedModel(): Record<string, Uint8Array | string> {
  const V = PIECES.length;
  const H = 16; // ≥ V: one-hot embeddings
  const config = {
    model_type: 'minimax_m1',
    vocab_size: V,
    hidden_size: H,
    intermediate_size: 8,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 4,
    rotary_dim: 4,
    attn_type_list: [0, 1],
    postnorm: false,
    num_local_experts: 2,
    num_experts_per_tok: 1,
    eos_token_id: 2,
  };
  const c = parseConfig(config);
  const tensors: Record<string, TensorData> = {};
  let seed = 7;
  for (const [name, { shape }] of expectedTensors(c)) {
    const count = shape.reduce((a, b) => a * b, 1);
    let v: Float32Array<ArrayBufferLike> = new Float32Array(count);
    if (shape.length === 1) v.fill(1);
    else if (name === 'model.embed_tokens.weight') for (let i = 0; i < V; i++) v[i * H + i] = 1;
    else if (name === 'lm_head.weight') for (const [from, to] of SCRIPT) v[id(to as never) * H + id(from as never)] = 10;
    else if (!/out_proj|o_proj|w2|gate\.weight$/.test(name)) v = randn(count, seed++, 0.3);
    tensors[name] = { dtype: 'F32', shape, data: encode(v, 'F32') };
  }
  const vocab = Object.fromEntries(PIECES.map((p, i) => [p, i]));
  const tokenizer = {
    version: '1.0',
    added_tokens: PIECES.map((p, i) => ({ id: i, content: p, single_word: false, lstrip: false, rstrip: false, normalized: false, special: i < 3 })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
  return {
    'config.json': JSON.stringify(config),
    'generation_config.json': JSON.stringify({ eos_token_id: 2, do_sample: false }),
    'tokenizer.json': JSON.stringify(tokenizer),
    'tokenizer_config.json': JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }),
    'model.safetensors': writeSafetensors(tensors),
  };
}
