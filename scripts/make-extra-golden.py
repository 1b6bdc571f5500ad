#!/usr/bin/env python3
"""Extra golden cases made with the spec's NumPy reference (../shared/spec/minimax_ref.py, float64), for
settings the shared golden files do not cover. Output: src/engine/golden-extra/<case>/ (config.json,
model.safetensors, input_ids.bin int32, logits.bin float32 [n, vocab], greedy.json).
Run: python3 scripts/make-extra-golden.py (needs numpy), and `... long` for the long case; the outputs are committed."""
import json, os, sys
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', '..', 'shared', 'spec'))
import minimax_ref as ref  # noqa: E402

CASES = {
    # shared expert (sigmoid-gated), tied embeddings, pre-norm, 5 heads (interleaved ALiBi), MQA, full rotary,
    # top-3 of 7 experts, softmax layer first, F16 weights with an F32 gate
    'shared_expert_tied_f16': dict(
        config={
            'vocab_size': 97, 'hidden_size': 40, 'intermediate_size': 24, 'num_hidden_layers': 3,
            'num_attention_heads': 5, 'num_key_value_heads': 1, 'head_dim': 8, 'rotary_dim': 8,
            'rope_theta': 500000.0, 'attn_type_list': [1, 0, 0], 'num_local_experts': 7, 'num_experts_per_tok': 3,
            'postnorm': False, 'rms_norm_eps': 1e-6, 'tie_word_embeddings': True,
            'shared_intermediate_size': 20, 'shared_moe_mode': 'sigmoid',
            'layernorm_linear_attention_alpha': 1.0, 'layernorm_linear_attention_beta': 1.0,
            'layernorm_full_attention_alpha': 1.0, 'layernorm_full_attention_beta': 1.0,
            'layernorm_mlp_alpha': 1.0, 'layernorm_mlp_beta': 1.0,
        },
        weight_dtype='F16', seed=31, n=77, n_new=8),
    # transformers-port field names only (layer_types, *_factor, rope_parameters with partial_rotary_factor)
    'hf_names_bf16': dict(
        config={
            'model_type': 'minimax', 'vocab_size': 131, 'hidden_size': 36, 'intermediate_size': 20,
            'num_hidden_layers': 4, 'num_attention_heads': 3, 'num_key_value_heads': 3, 'head_dim': 12,
            'layer_types': ['linear_attention', 'full_attention', 'linear_attention', 'full_attention'],
            'rope_parameters': {'rope_theta': 10000.0, 'partial_rotary_factor': 0.5},
            'num_local_experts': 4, 'num_experts_per_tok': 2,
            'linear_attn_alpha_factor': 1.3, 'linear_attn_beta_factor': 0.8, 'full_attn_alpha_factor': 1.6,
            'full_attn_beta_factor': 1.2, 'mlp_alpha_factor': 1.4, 'mlp_beta_factor': 0.7,
        },
        weight_dtype='BF16', seed=47, n=61, n_new=8),
}

# A long sequence for the paged KV cache and the split attention: 16,384 tokens, prefilled in chunks of
# 1024 (the reference's softmax attention holds [heads, chunk, keys] scores); only some rows are kept.
LONG = dict(
    config={
        'vocab_size': 67, 'hidden_size': 32, 'intermediate_size': 24, 'num_hidden_layers': 4,
        'num_attention_heads': 2, 'num_key_value_heads': 1, 'head_dim': 16, 'rotary_dim': 8,
        'rope_theta': 10000.0, 'attn_type_list': [0, 1, 0, 1], 'num_local_experts': 4, 'num_experts_per_tok': 2,
        'postnorm': True, 'max_position_embeddings': 16384,
        'layernorm_linear_attention_alpha': 2.0, 'layernorm_linear_attention_beta': 1.0,
        'layernorm_full_attention_alpha': 2.0, 'layernorm_full_attention_beta': 1.0,
        'layernorm_mlp_alpha': 2.0, 'layernorm_mlp_beta': 1.0,
    },
    weight_dtype='F32', seed=59, n=16384)


def make_long(name, case):
    out = os.path.join(here, '..', 'src', 'engine', 'golden-extra', name)
    os.makedirs(out, exist_ok=True)
    tensors = ref.make_tiny_checkpoint(case['config'], case['seed'], case['weight_dtype'], 'F32')
    ref.save_checkpoint(out, case['config'], tensors)
    model = ref.MiniMaxRef(case['config'], {k: v[0] for k, v in tensors.items()})
    rng = np.random.default_rng(case['seed'] + 1)
    n = case['n']
    ids = rng.integers(0, case['config']['vocab_size'], size=n)
    cache = model.new_cache()
    rows = sorted(set(list(range(0, n, 509)) + list(range(n - 8, n))))
    kept = []
    for s in range(0, n, 1024):
        logits = model.forward(ids[s:s + 1024], cache, mode='block')
        kept += [logits[r - s] for r in rows if s <= r < s + 1024]
    np.asarray(ids, dtype='<i4').tofile(os.path.join(out, 'input_ids.bin'))
    np.asarray(kept, dtype='<f4').tofile(os.path.join(out, 'logits_rows.bin'))
    with open(os.path.join(out, 'rows.json'), 'w') as f:
        json.dump({'rows': rows, 'max_abs_logit': float(np.max(np.abs(kept)))}, f)
        f.write('\n')
    print(name, len(rows), 'rows kept of', n)


if len(sys.argv) > 1 and sys.argv[1] == 'long':
    make_long('long_16k_f32', LONG)
    sys.exit(0)

for name, case in CASES.items():
    out = os.path.join(here, '..', 'src', 'engine', 'golden-extra', name)
    os.makedirs(out, exist_ok=True)
    tensors = ref.make_tiny_checkpoint(case['config'], case['seed'], case['weight_dtype'], 'F32')
    ref.save_checkpoint(out, case['config'], tensors)
    model = ref.MiniMaxRef(case['config'], {k: v[0] for k, v in tensors.items()})
    rng = np.random.default_rng(case['seed'] + 1)
    ids = rng.integers(0, case['config']['vocab_size'], size=case['n'])
    logits = model.forward(ids)
    new, _ = model.generate_greedy(ids, case['n_new'])
    np.asarray(ids, dtype='<i4').tofile(os.path.join(out, 'input_ids.bin'))
    np.asarray(logits, dtype='<f4').tofile(os.path.join(out, 'logits.bin'))
    with open(os.path.join(out, 'greedy.json'), 'w') as f:
        json.dump({'greedy_ids': [int(i) for i in new], 'max_abs_logit': float(np.max(np.abs(logits)))}, f)
        f.write('\n')
    print(name, 'max |logit|', float(np.max(np.abs(logits))), 'greedy', new)
