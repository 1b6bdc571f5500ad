import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { WDTYPE, type GpuTensor } from './tensor';

/** y = RMSNorm(x; w, eps) over rows of w.shape[0] channels. */
export function rmsnorm(gpu: Gpu, rec: Recorder, a: { x: GPUBuffer; n: number; w: GpuTensor; eps: number; y: GPUBuffer }): void {
  const params = new Params().u32(a.n).u32(a.w.shape[0]).f32(a.eps);
  normRows(gpu, rec, 'rmsnorm', a.w, a.n, params, [a.x, a.w.parts[0].buffer, a.y]);
}

/**
 * An RMSNorm handed to the kernel that first reads its output (shaders/foldedNorm.wgsl): that kernel
 * reads the raw stream x, norms it with w and eps as rmsnorm would, and writes the normed row to h.
 */
export interface FoldedNorm {
  w: GpuTensor;
  eps: number;
  h: GPUBuffer;
}

/** Whether the norm of n rows goes into its reader (KernelChoices.foldNorm: one decoded token, gemv by rows). */
export function foldsNorm(gpu: Gpu, n: number): boolean {
  return n === 1 && gpu.choices.foldNorm && gpu.choices.gemv === 'rows';
}

/** The constants and bindings (normW, h) of a folded norm, or of none: then x and a spare buffer, unused. */
export function foldedNormParts(gpu: Gpu, x: GPUBuffer, norm: FoldedNorm | undefined): { constants: Record<string, number>; bindings: GPUBuffer[] } {
  if (!norm) return { constants: { NORM: 0 }, bindings: [x, gpu.spare] };
  return { constants: { NORM: 1, NDTYPE: WDTYPE[norm.w.dtype] }, bindings: [norm.w.parts[0].buffer, norm.h] };
}

/**
 * Dispatches a row norm (rmsnorm, lightningOutput) over n rows: a workgroup a row while the rows are
 * too few to fill one workgroup of 64 (decode), else an invocation a row (on SwiftShader a workgroup a
 * row cost a fifth of a 69-token prefill). Where norms are folded into their readers, always an
 * invocation a row: the readers sum a row that way, so prefill and decode give the same bits.
 */
export function normRows(gpu: Gpu, rec: Recorder, shader: string, w: GpuTensor, n: number, params: Params, bindings: GPUBuffer[]): void {
  const one = n < 64 && !gpu.choices.foldNorm;
  const pipeline = gpu.pipeline(shader, { WDTYPE: WDTYPE[w.dtype], WG: gpu.choices.barrierWorkgroup }, one ? 'row' : 'rows');
  rec.dispatch(pipeline, params, bindings, ...(one ? grid(n, 1) : grid(n, 64)));
}
