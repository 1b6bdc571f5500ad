import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';

/** a ← alpha·r + beta·a over count floats. */
export function residual(
  gpu: Gpu,
  rec: Recorder,
  a: { r: GPUBuffer; a: GPUBuffer; count: number; alpha: number; beta: number },
): void {
  const params = new Params().u32(a.count).f32(a.alpha).f32(a.beta);
  rec.dispatch(gpu.pipeline('residual'), params, [a.r, a.a], ...grid(a.count, 64));
}
