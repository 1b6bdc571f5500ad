/** The tensors a MiniMax checkpoint must hold (MODEL.md §3.2), and a check of an indexed checkpoint against them. */
import type { ModelConfig } from './config';
import { quantRow, type QuantFormat } from './quantize';
import { CheckpointError, INDEX_FILE, type DType, type TensorInfo } from './safetensors';

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
 * A matrix `X.weight` of a pre-quantized checkpoint (lightmoe quantize), stored in the row-major form of
 * src/model/quantize.ts as two tensors:
 *   X.qweight  int8: I8 [rows, kp], element c at byte c;  int4: U8 [rows, kp / 2], quantize.ts's nibbles
 *   X.scales   F16 [rows, kp / B, 2]: each block's scale and minimum (0 for int8)
 * (B the block size, kp = k rounded up to B).
 */
export interface QuantizedTensor {
  format: QuantFormat;
  shape: [rows: number, k: number];
  data: TensorInfo;
  scales: TensorInfo;
}

export const qweightName = (weight: string) => weight.replace(/\.weight$/, '.qweight');
export const scalesName = (weight: string) => weight.replace(/\.weight$/, '.scales');

/** The dtypes and shapes of the two tensors that hold a [rows, k] matrix quantized to `format`. */
export function quantizedTensorShapes(format: QuantFormat, rows: number, k: number): { data: { dtype: DType; shape: number[] }; scales: { dtype: DType; shape: number[] } } {
  const R = quantRow(format, k);
  return { data: { dtype: format === 'int8' ? 'I8' : 'U8', shape: [rows, R.words * 4] }, scales: { dtype: 'F16', shape: [rows, R.blocks, 2] } };
}

const FLOATS = new Set<DType>(['F32', 'F16', 'BF16']);
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Throws a CheckpointError for the first missing, mis-shaped or mis-typed tensor (and counts the rest);
 * returns the matrices stored quantized, by their `.weight` name.
 * Extra tensors are ignored: e.g. the transformers port's slope_rate / *_decay buffers.
 */
export function checkTensors(c: ModelConfig, tensors: Map<string, TensorInfo>): Map<string, QuantizedTensor> {
  // Where a missing tensor should have been: the only file, or the index of a sharded checkpoint.
  const files = new Set([...tensors.values()].map((t) => t.file));
  const where = files.size === 1 ? [...files][0] : files.size === 0 ? 'the checkpoint' : INDEX_FILE;
  const problems: CheckpointError[] = [];
  const problem = (t: { file: string } | null, name: string, msg: string) => problems.push(new CheckpointError(t?.file ?? where, `${t?.file ?? where}: tensor "${name}" ${msg}`, name));
  const quantized = new Map<string, QuantizedTensor>();
  for (const [name, { shape }] of expectedTensors(c)) {
    const t = tensors.get(name);
    const q = tensors.get(qweightName(name));
    if (q) {
      if (!c.quantization) problem(q, q.name, 'is quantized data, but config.json has no quantization_config');
      else if (t) problem(t, name, `is there as well as its quantized form ${q.name}: a checkpoint holds one of them`);
      else if (shape.length !== 2) problem(q, q.name, `is quantized, but ${name} is a vector (only matrices are quantized)`);
      else {
        const want = quantizedTensorShapes(c.quantization, shape[0], shape[1]);
        const sc = tensors.get(scalesName(name));
        const expect = `expected ${want.data.dtype} [${want.data.shape.join(', ')}] for ${c.quantization} ${name} [${shape.join(', ')}]`;
        if (q.dtype !== want.data.dtype || !sameShape(q.shape, want.data.shape)) problem(q, q.name, `is ${q.dtype} [${q.shape.join(', ')}], ${expect}`);
        else if (!sc) problem(q, scalesName(name), `is missing: ${q.name} needs its block scales`);
        else if (sc.dtype !== want.scales.dtype || !sameShape(sc.shape, want.scales.shape)) problem(sc, sc.name, `is ${sc.dtype} [${sc.shape.join(', ')}], expected ${want.scales.dtype} [${want.scales.shape.join(', ')}]: one (scale, minimum) pair per block of ${q.name}`);
        else quantized.set(name, { format: c.quantization, shape: [shape[0], shape[1]], data: q, scales: sc });
      }
    } else if (!t) {
      const why = name === 'lm_head.weight' ? ' (tie_word_embeddings is false, so a separate lm_head is needed)' : '';
      problem(null, name, `is missing${why}`);
    } else if (!sameShape(t.shape, shape)) {
      problem(t, name, `has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    } else if (!FLOATS.has(t.dtype)) {
      problem(t, name, `has dtype ${t.dtype}: weights are F32, F16 or BF16 (I8 and U8 only hold a quantized matrix's .qweight)`);
    }
  }
  if (problems.length > 1) problems[0].message += ` (and ${problems.length - 1} more problems)`;
  if (problems.length) throw problems[0];
  return quantized;
}
