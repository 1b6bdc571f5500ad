import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

/** Top-k experts per token (best first) and their renormalised weights, from router logits z [n, E]. */
export function router(
  gpu: Gpu,
  rec: Recorder,
  a: { z: GPUBuffer; n: number; experts: number; k: number; idx: GPUBuffer; weight: GPUBuffer },
): void {
  const params = new Params().u32(a.n).u32(a.experts).u32(a.k);
  rec.dispatch(gpu.pipeline('router'), params, [a.z, a.idx, a.weight], Math.ceil(a.n / 64));
}
