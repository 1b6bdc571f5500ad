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
 * reads the raw stream x, norms it with w (f32: src/engine/weights.ts widens norms where they fold)
 * and eps as rmsnorm would, and writes the normed row to h.
 */
export interface FoldedNorm {
  w: GpuTensor;
  eps: number;
  h: GPUBuffer;
}

/** Whether the adapter folds one-token norms into their readers (KernelChoices.foldNorm, with gemv by rows). */
export function foldingNorms(gpu: Gpu): boolean {
  return gpu.choices.foldNorm && gpu.choices.gemv === 'rows';
}

/**
 * Each invocation of a reader that folds a norm in passes over the row twice more (its squares, and
 * the weight with every activation), so a reader folds it in only where its invocations (one per 4 of
 * its `rows`) times the row's k channels stay within this: on SwiftShader, stories260k's readers (up to
 * 128 × 64) gained from it and tiny-hybrid-stories' (up to 128 × 128) broke even, where an M1-sized
 * projection (4,608 × 6,144) would spend far more than the dispatch it saves.
 */
const FOLD_WORK = 1 << 14;

/** Whether the norm of n rows goes into the reader of `rows` × k weights that first reads it (one decoded token). */
export function foldsNorm(gpu: Gpu, n: number, rows: number, k: number): boolean {
  return n === 1 && foldingNorms(gpu) && Math.ceil(rows / 4) * k <= FOLD_WORK;
}

/**
 * The constants and bindings (normW, h) of a folded norm for `reader`, a matrix of rows of k, or of
 * none: then x and a spare buffer, unused.
 */
export function foldedNormParts(gpu: Gpu, x: GPUBuffer, norm: FoldedNorm | undefined, reader: GpuTensor, k: number): { constants: Record<string, number>; bindings: GPUBuffer[] } {
  if (!norm) return { constants: { NORM: 0 }, bindings: [x, gpu.spare] };
  if (norm.w.dtype !== 'f32') throw new Error(`${norm.w.name}: a folded norm's weight must be f32 on the GPU, not ${norm.w.dtype}`);
  if (norm.w.shape[0] !== k) throw new Error(`${reader.name}: a folded norm ${norm.w.name} of ${norm.w.shape[0]} channels for rows of ${k}`);
  return { constants: { NORM: 1 }, bindings: [norm.w.parts[0].buffer, norm.h] };
}

/**
 * Dispatches a row norm (rmsnorm, lightningOutput) over n rows: a workgroup a row while the rows are
 * too few to fill one workgroup of 64 (decode), else an invocation a row (on SwiftShader a workgroup a
 * row cost a fifth of a 69-token prefill). Where norms are folded into their readers, always an
 * invocation a row, as they sum it: a token's norm then has the same bits whether its reader folded it
 * or not, and in prefill and decode.
 */
export function normRows(gpu: Gpu, rec: Recorder, shader: string, w: GpuTensor, n: number, params: Params, bindings: GPUBuffer[]): void {
  const one = n < 64 && !foldingNorms(gpu);
  const pipeline = gpu.pipeline(shader, { WDTYPE: WDTYPE[w.dtype], WG: gpu.choices.barrierWorkgroup }, one ? 'row' : 'rows');
  rec.dispatch(pipeline, params, bindings, ...(one ? grid(n, 1) : grid(n, 64)));
}
