import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { scalesOf, WDTYPE, type GpuTensor } from './tensor';

export interface MatmulArgs {
  x: GPUBuffer; // [x0 + n, k] f32
  x0?: number; // first row of x to read
  n: number;
  w: GpuTensor; // [rows, k]
  y: GPUBuffer; // [n, yStride] f32
  yStride?: number; // defaults to rows (all of W)
  yCol0?: number; // column of y where W's row 0 lands
  act?: 'silu';
}

/** y = act(x·Wᵀ), one dispatch per row part of W. */
export function matmul(gpu: Gpu, rec: Recorder, a: MatmulArgs): void {
  const [rows, k] = a.w.shape;
  // One token (decode) gets an invocation per row; more tokens share each weight load four ways.
  const TT = a.n === 1 ? 1 : 4;
  const pipeline = gpu.pipeline('matmul', { WDTYPE: WDTYPE[a.w.dtype], ACT: a.act === 'silu' ? 1 : 0, TT });
  for (const part of a.w.parts) {
    const params = new Params()
      .u32(a.n)
      .u32(k)
      .u32(part.rows)
      .u32(a.yStride ?? rows)
      .u32((a.yCol0 ?? 0) + part.row0)
      .u32(a.x0 ?? 0);
    rec.dispatch(pipeline, params, [a.x, part.buffer, a.y, scalesOf(part)], Math.ceil(part.rows / 64), Math.ceil(a.n / TT));
  }
}
