import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import type { LightningArgs } from './lightningPrefill';

/** Lightning attention for one token through the recurrence (n must be 1). */
export function lightningDecode(gpu: Gpu, rec: Recorder, a: LightningArgs): void {
  if (a.n !== 1) throw new Error(`lightningDecode takes one token, got ${a.n}`);
  const params = new Params().u32(a.numHeads).u32(a.headDim).u32(a.decayStride);
  const invocations = a.numHeads * a.headDim;
  const wg = gpu.spread(invocations);
  rec.dispatch(gpu.pipeline('lightningDecode', { WG: wg }), params, [a.qkv, a.decay, a.state, a.o], Math.ceil(invocations / wg));
}

