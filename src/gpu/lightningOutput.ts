import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { normRows } from './rmsnorm';
import { type GpuTensor } from './tensor';

/** o ← σ(g) ⊙ RMSNorm(o; w, eps), in place, over all nh·hd channels of a token. */
export function lightningOutput(
  gpu: Gpu,
  rec: Recorder,
  a: { o: GPUBuffer; g: GPUBuffer; n: number; w: GpuTensor; eps: number },
): void {
  const params = new Params().u32(a.n).u32(a.w.shape[0]).f32(a.eps);
  normRows(gpu, rec, 'lightningOutput', a.w, a.n, params, [a.g, a.w.parts[0].buffer, a.o]);
}
