/** The tensors a MiniMax checkpoint must hold (MODEL.md §3.2), and a check of an indexed checkpoint against them. */
import type { ModelConfig } from './config';
import { CheckpointError, INDEX_FILE, type TensorInfo } from './safetensors';

/** Tensor name → shape, as `expected_shapes` in minimax_ref.py. */
export function expectedTensors(c: ModelConfig): Map<string, { shape: number[] }> {
  const { hiddenSize: hs, intermediateSize: inter, numExperts, vocabSize: v, headDim: hd } = c;
  const q = c.numHeads * hd;
  const kv = c.numKvHeads * hd;
  const s = new Map<string, { shape: number[] }>();
  const put = (name: string, ...shape: number[]) => s.set(name, { shape });

  put('model.embed_tokens.weight', v, hs);
  put('model.norm.weight', hs);
  if (!c.tieWordEmbeddings) put('lm_head.weight', v, hs);
  c.layerKinds.forEach((kind, i) => {
    const p = `model.layers.${i}.`;
    put(p + 'input_layernorm.weight', hs);
    put(p + 'post_attention_layernorm.weight', hs);
    if (kind === 'lightning') {
      put(p + 'self_attn.qkv_proj.weight', 3 * q, hs);
      put(p + 'self_attn.output_gate.weight', q, hs);
      put(p + 'self_attn.norm.weight', q);
      put(p + 'self_attn.out_proj.weight', hs, q);
    } else {
      put(p + 'self_attn.q_proj.weight', q, hs);
      put(p + 'self_attn.k_proj.weight', kv, hs);
      put(p + 'self_attn.v_proj.weight', kv, hs);
      put(p + 'self_attn.o_proj.weight', hs, q);
    }
    put(p + 'block_sparse_moe.gate.weight', numExperts, hs);
    for (let e = 0; e < numExperts; e++) {
      put(p + `block_sparse_moe.experts.${e}.w1.weight`, inter, hs);
      put(p + `block_sparse_moe.experts.${e}.w3.weight`, inter, hs);
      put(p + `block_sparse_moe.experts.${e}.w2.weight`, hs, inter);
    }
    if (c.sharedIntermediateSize > 0) {
      const si = c.sharedIntermediateSize;
      put(p + 'shared_mlp.gate_proj.weight', si, hs);
      put(p + 'shared_mlp.up_proj.weight', si, hs);
      put(p + 'shared_mlp.down_proj.weight', hs, si);
      put(p + 'coefficient.weight', 1, hs);
    }
  });
  return s;
}

/**
 * Throws a CheckpointError for the first missing or mis-shaped tensor (and counts the rest).
 * Extra tensors are ignored: e.g. the transformers port's slope_rate / *_decay buffers.
 */
export function checkTensors(c: ModelConfig, tensors: Map<string, TensorInfo>): void {
  // Where a missing tensor should have been: the only file, or the index of a sharded checkpoint.
  const files = new Set([...tensors.values()].map((t) => t.file));
  const where = files.size === 1 ? [...files][0] : files.size === 0 ? 'the checkpoint' : INDEX_FILE;
  const problems: CheckpointError[] = [];
  for (const [name, { shape }] of expectedTensors(c)) {
    const t = tensors.get(name);
    if (!t) {
      const why = name === 'lm_head.weight' ? ' (tie_word_embeddings is false, so a separate lm_head is needed)' : '';
      problems.push(new CheckpointError(where, `${where}: tensor "${name}" is missing${why}`, name));
    } else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(new CheckpointError(t.file, `${t.file}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, name));
    }
  }
  if (problems.length > 1) problems[0].message += ` (and ${problems.length - 1} more problems)`;
  if (problems.length) throw problems[0];
}
