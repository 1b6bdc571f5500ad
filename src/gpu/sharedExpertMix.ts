import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

/** moe ← moe·(1 − σ(cz)) + shared·σ(cz), per token. */
export function sharedExpertMix(
  gpu: Gpu,
  rec: Recorder,
  a: { cz: GPUBuffer; shared: GPUBuffer; moe: GPUBuffer; n: number; hidden: number },
): void {
  const params = new Params().u32(a.n).u32(a.hidden);
  rec.dispatch(gpu.pipeline('sharedExpertMix'), params, [a.cz, a.shared, a.moe], Math.ceil(a.hidden / 64), a.n);
}
