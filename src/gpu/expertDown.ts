import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { scalesOf, weightConstants, type GpuTensor } from './tensor';
import { dispatchRows, rowsPerInvocation, singlePart, type ExpertRows } from './expertSwiglu';

/** out[tok[r]] += weight[r] · (u[r]·W2ᵀ) for the rows routed to one expert. */
export function expertDown(
  gpu: Gpu,
  rec: Recorder,
  a: ExpertRows & { u: GPUBuffer; w2: GpuTensor; weight: GPUBuffer; out: GPUBuffer },
): void {
  const [hidden, inter] = a.w2.shape;
  const pipeline = gpu.pipeline('expertDown', { ...weightConstants(gpu, a.w2.dtype), TT: rowsPerInvocation(a) });
  const params = new Params().u32(hidden).u32(inter).u32(a.expert);
  const w2 = singlePart(a.w2);
  dispatchRows(rec, pipeline, params, [a.u, w2.buffer, a.tok, a.weight, a.runs, a.out, scalesOf(w2)], a, hidden, 1);
}
