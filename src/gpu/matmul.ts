import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { foldedNormParts, type FoldedNorm } from './rmsnorm';
import { scalesOf, weightConstants, type GpuTensor } from './tensor';

export interface MatmulArgs {
  x: GPUBuffer; // [x0 + n, k] f32
  x0?: number; // first row of x to read
  n: number;
  w: GpuTensor; // [rows, k]
  y: GPUBuffer; // [n, yStride] f32
  yStride?: number; // defaults to rows (all of W)
  yCol0?: number; // column of y where W's row 0 lands
  act?: 'silu';
  /** y = alpha·r + beta·(x·Wᵀ): the residual join fused in (r laid out as y; no act). */
  residual?: { r: GPUBuffer; alpha: number; beta: number };
  /** x is the stream before this RMSNorm, which gemv folds in (foldsNorm), writing its output to norm.h. */
  norm?: FoldedNorm;
}

/**
 * y = act(x·Wᵀ) (or act(RMSNorm(x)·Wᵀ) with a folded norm, each part's dispatch norming the row again), one dispatch per row part of W: for one token gemv (4 rows an invocation, ⌈rows/4⌉ apart, in
 * workgroups spread over a CPU adapter's threads) or gemvSliced
 * (16 rows a workgroup, k split 16 ways), as the adapter's kernel choices say; gemm for more (4 tokens).
 */
export function matmul(gpu: Gpu, rec: Recorder, a: MatmulArgs): void {
  const [rows, k] = a.w.shape;
  const one = a.n === 1;
  const entry = !one ? 'gemm' : gpu.choices.gemv === 'sliced' ? 'gemvSliced' : 'gemv';
  if (a.norm) {
    if (entry !== 'gemv') throw new Error(`${a.w.name}: a folded norm needs one token and gemv by rows`);
    // h is written while x, y and the residual are bound: one buffer cannot be both.
    if (a.residual || a.norm.h === a.x || a.norm.h === a.y) throw new Error(`${a.w.name}: a folded norm's h must be a buffer of its own, with no residual join`);
  }
  const norm = foldedNormParts(gpu, a.x, a.norm, a.w, k);
  const constants = { ...weightConstants(gpu, a.w.dtype), ACT: a.act === 'silu' ? 1 : 0, RESIDUAL: a.residual ? 1 : 0, ...norm.constants };
  for (const part of a.w.parts) {
    const invocations = Math.ceil(part.rows / 4);
    const wg = gpu.spread(invocations);
    const pipeline = gpu.pipeline('matmul', entry === 'gemv' ? { ...constants, WG: wg } : constants, entry);
    const params = new Params()
      .u32(a.n)
      .u32(k)
      .u32(part.rows)
      .u32(a.yStride ?? rows)
      .u32((a.yCol0 ?? 0) + part.row0)
      .u32(a.x0 ?? 0)
      .f32(a.residual?.alpha ?? 0)
      .f32(a.residual?.beta ?? 0)
      .f32(a.norm?.eps ?? 0);
    // Without a residual its binding is unused: bind x again rather than leave it out of the layout. Only
    // gemv writes a norm's h (its binding is in no other entry point's layout).
    const [normW, h] = norm.bindings;
    const bindings = [a.x, part.buffer, a.y, scalesOf(part), a.residual?.r ?? a.x, normW, entry === 'gemv' ? h : null];
    if (entry === 'gemvSliced') rec.dispatch(pipeline, params, bindings, Math.ceil(part.rows / 16));
    else if (one) rec.dispatch(pipeline, params, bindings, Math.ceil(invocations / wg));
    else rec.dispatch(pipeline, params, bindings, Math.ceil(part.rows / 64), Math.ceil(a.n / 4));
  }
}
