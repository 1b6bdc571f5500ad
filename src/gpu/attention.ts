import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

export interface AttentionArgs {
  q: GPUBuffer; // [n, qStride], its first nh·hd values the heads, RoPE applied
  qStride?: number; // default nh·hd
  k: GPUBuffer; // KV cache [past + n, nkv, hd]
  v: GPUBuffer;
  o: GPUBuffer; // [n, nh, hd]
  n: number;
  past: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** Causal GQA softmax attention of n new queries over past + n cached keys, scaled by 1/sqrt(hd). */
export function attention(gpu: Gpu, rec: Recorder, a: AttentionArgs): void {
  const pipeline = gpu.pipeline('attention', { HD: a.headDim, WG: Math.min(64, gpu.choices.barrierWorkgroup) });
  const params = new Params()
    .u32(a.n)
    .u32(a.numHeads)
    .u32(a.numKvHeads)
    .u32(a.headDim)
    .u32(a.past)
    .f32(1 / Math.sqrt(a.headDim))
    .u32(a.qStride ?? a.numHeads * a.headDim);
  rec.dispatch(pipeline, params, [a.q, a.k, a.v, a.o], a.n, a.numHeads);
}
