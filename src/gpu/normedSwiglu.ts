import { type Gpu, type Recorder } from './gpu';
import { expertParams, expertWorkgroup, singlePart, type ExpertStack, ALONE } from './expertSwiglu';
import { foldedNormParts, type FoldedNorm } from './rmsnorm';
import { scalesOf, weightConstants, type GpuTensor } from './tensor';

/**
 * u = SiLU(h·W1ᵀ) ⊙ (h·W3ᵀ) for one decoded token of a dense MLP, with h = RMSNorm(x) folded in
 * (foldsNorm) and written to norm.h: expertSwiglu's decode, one dispatch fewer.
 */
export function normedSwiglu(gpu: Gpu, rec: Recorder, a: { x: GPUBuffer; w1: GpuTensor; w3: GpuTensor; u: GPUBuffer; norm: FoldedNorm; stack?: ExpertStack }): void {
  const { index, count } = a.stack ?? ALONE;
  const [rows, hidden] = a.w1.shape;
  const inter = rows / count;
  if (a.w1.dtype !== a.w3.dtype) throw new Error(`${a.w1.name} and ${a.w3.name} differ in dtype`);
  const wg = expertWorkgroup(gpu, 1, inter);
  const norm = foldedNormParts(gpu, a.x, a.norm, a.w1, hidden);
  const pipeline = gpu.pipeline('normedSwiglu', { ...weightConstants(gpu, a.w1.dtype), ...norm.constants, WG: wg });
  const params = expertParams(hidden, inter, 0, rows, index * inter, 0, count).f32(a.norm.eps);
  const [w1, w3] = [a.w1, a.w3].map(singlePart);
  rec.dispatch(pipeline, params, [a.x, w1.buffer, w3.buffer, a.u, scalesOf(w1), scalesOf(w3), ...norm.bindings], Math.ceil(Math.ceil(inter / 4) / wg));
}
