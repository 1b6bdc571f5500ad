import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { WDTYPE, type GpuTensor } from './tensor';

/** y = RMSNorm(x; w, eps) over rows of w.shape[0] channels. */
export function rmsnorm(gpu: Gpu, rec: Recorder, a: { x: GPUBuffer; n: number; w: GpuTensor; eps: number; y: GPUBuffer }): void {
  const params = new Params().u32(a.n).u32(a.w.shape[0]).f32(a.eps);
  normRows(gpu, rec, 'rmsnorm', a.w, a.n, params, [a.x, a.w.parts[0].buffer, a.y]);
}

/**
 * Dispatches a row norm (rmsnorm, lightningOutput) over n rows: a workgroup a row while the rows are
 * too few to fill one workgroup of 64 (decode), else an invocation a row (on SwiftShader a workgroup a
 * row cost a fifth of a 69-token prefill).
 */
export function normRows(gpu: Gpu, rec: Recorder, shader: string, w: GpuTensor, n: number, params: Params, bindings: GPUBuffer[]): void {
  const one = n < 64;
  const pipeline = gpu.pipeline(shader, { WDTYPE: WDTYPE[w.dtype], WG: gpu.choices.barrierWorkgroup }, one ? 'row' : 'rows');
  rec.dispatch(pipeline, params, bindings, ...(one ? grid(n, 1) : grid(n, 64)));
}
