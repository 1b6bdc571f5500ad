import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { WDTYPE, type GpuTensor } from './tensor';

/** o ← σ(g) ⊙ RMSNorm(o; w, eps), in place, over all nh·hd channels of a token. */
export function lightningOutput(
  gpu: Gpu,
  rec: Recorder,
  a: { o: GPUBuffer; g: GPUBuffer; n: number; w: GpuTensor; eps: number },
): void {
  // A workgroup a row while the rows are too few to fill one workgroup of 64 (decode), else an
  // invocation a row: on SwiftShader a workgroup a row cost 20 % of a 69-token prefill.
  const one = a.n < 64;
  const pipeline = gpu.pipeline('lightningOutput', { WDTYPE: WDTYPE[a.w.dtype], WG: gpu.choices.barrierWorkgroup }, one ? 'row' : 'rows');
  const params = new Params().u32(a.n).u32(a.w.shape[0]).f32(a.eps);
  rec.dispatch(pipeline, params, [a.g, a.w.parts[0].buffer, a.o], ...(one ? grid(a.n, 1) : grid(a.n, 64)));
}
