import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';

export interface LightningArgs {
  qkv: GPUBuffer; // [n, nh, 3, hd], SiLU applied
  decay: GPUBuffer; // [nh, decayStride] e^{-λ_h d}
  decayStride: number; // block size + 1
  state: GPUBuffer; // [nh, hd, hd], advanced in place
  o: GPUBuffer; // [n, nh, hd]
  /** Scratch for the decayed scores of one block, [nh, block, block] f32 (prefill only). */
  scores?: GPUBuffer;
  n: number;
  numHeads: number;
  headDim: number;
}

/** Lightning attention over n tokens, block by block (blocks of decayStride - 1 tokens). */
export function lightningPrefill(gpu: Gpu, rec: Recorder, a: LightningArgs): void {
  const block = a.decayStride - 1;
  const [scores, output, state] = ['blockScores', 'blockOutput', 'blockState'].map((e) => gpu.pipeline('lightningPrefill', {}, e));
  const { numHeads: nh, headDim: hd } = a;
  if (!a.scores) throw new Error('lightningPrefill needs a scores buffer');
  const { qkv, decay, state: S, o, scores: P } = a;
  for (let b0 = 0; b0 < a.n; b0 += block) {
    const m = Math.min(block, a.n - b0);
    const params = new Params().u32(nh).u32(hd).u32(b0).u32(m).u32(a.decayStride);
    rec.dispatch(scores, params, [qkv, decay, null, null, P], ...grid(nh * m * m, 64));
    rec.dispatch(output, params, [qkv, decay, S, o, P], ...grid(nh * m * hd, 64));
    rec.dispatch(state, params, [qkv, decay, S], ...grid(nh * hd * hd, 64));
  }
}

/** Per-head decay table e^{-λ_h d}, d = 0 … block, computed in double precision. */
export function decayTable(lambdas: number[], block: number): Float32Array {
  const out = new Float32Array(lambdas.length * (block + 1));
  lambdas.forEach((l, h) => {
    for (let d = 0; d <= block; d++) out[h * (block + 1) + d] = Math.exp(-l * d);
  });
  return out;
}
