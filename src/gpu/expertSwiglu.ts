import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { WDTYPE, type GpuTensor } from './tensor';

export interface ExpertRows {
  tok: GPUBuffer; // u32 token index per routed row
  tok0: number; // first row of this expert in tok (and in the weight list)
  count: number; // rows routed to this expert
}

/** u[r] = SiLU(x[tok[r]]·W1ᵀ) ⊙ (x[tok[r]]·W3ᵀ) for the rows routed to one expert. */
export function expertSwiglu(
  gpu: Gpu,
  rec: Recorder,
  a: ExpertRows & { x: GPUBuffer; w1: GpuTensor; w3: GpuTensor; u: GPUBuffer },
): void {
  const [inter, hidden] = a.w1.shape;
  if (a.w1.dtype !== a.w3.dtype) throw new Error(`${a.w1.name} and ${a.w3.name} differ in dtype`);
  const pipeline = gpu.pipeline('expertSwiglu', { WDTYPE: WDTYPE[a.w1.dtype] });
  const params = new Params().u32(a.count).u32(hidden).u32(inter).u32(a.tok0);
  const [w1, w3] = [a.w1, a.w3].map(singlePart);
  rec.dispatch(pipeline, params, [a.x, w1, w3, a.tok, a.u], Math.ceil(inter / 64), Math.ceil(a.count / 4));
}

/** The buffer of a weight that must fit one binding (an expert matrix). */
export function singlePart(t: GpuTensor): GPUBuffer {
  if (t.parts.length !== 1) throw new Error(`${t.name}: an expert matrix must fit one storage binding`);
  return t.parts[0].buffer;
}
