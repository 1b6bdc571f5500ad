import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { WDTYPE, type GpuTensor } from './tensor';

/** y = RMSNorm(x; w, eps) over rows of w.shape[0] channels. */
export function rmsnorm(gpu: Gpu, rec: Recorder, a: { x: GPUBuffer; n: number; w: GpuTensor; eps: number; y: GPUBuffer }): void {
  // A workgroup a row while the rows are too few to fill one workgroup of 64 (decode), else an
  // invocation a row: on SwiftShader a workgroup a row cost 20 % of a 69-token prefill.
  const one = a.n < 64;
  const pipeline = gpu.pipeline('rmsnorm', { WDTYPE: WDTYPE[a.w.dtype], WG: gpu.choices.barrierWorkgroup }, one ? 'row' : 'rows');
  const params = new Params().u32(a.n).u32(a.w.shape[0]).f32(a.eps);
  rec.dispatch(pipeline, params, [a.x, a.w.parts[0].buffer, a.y], ...(one ? grid(a.n, 1) : grid(a.n, 64)));
}
