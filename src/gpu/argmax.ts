import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

/** out[slot] = index of the largest of logits[offset .. offset+count) (first on ties). */
export function argmax(gpu: Gpu, rec: Recorder, a: { logits: GPUBuffer; offset: number; count: number; out: GPUBuffer; slot?: number }): void {
  const params = new Params().u32(a.count).u32(a.offset).u32(a.slot ?? 0);
  rec.dispatch(gpu.pipeline('argmax', { WG: gpu.choices.barrierWorkgroup }), params, [a.logits, a.out], 1);
}
