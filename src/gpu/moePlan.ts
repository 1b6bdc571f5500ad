import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { expertWorkgroup } from './expertSwiglu';

/** Routed rows grouped by expert on the GPU, with each expert's run and indirect dispatch sizes. */
export function moePlan(
  gpu: Gpu,
  rec: Recorder,
  a: {
    idx: GPUBuffer; // [n, k] u32
    weight: GPUBuffer; // [n, k]
    n: number;
    k: number;
    experts: number;
    inter: number;
    hidden: number;
    tok: GPUBuffer; // out [n·k] u32
    rowWeight: GPUBuffer; // out [n·k]
    runs: GPUBuffer; // out [E, 2] u32
    args: GPUBuffer; // out [E, 2, 3] u32, INDIRECT usage
  },
): void {
  // The expert kernels' workgroups at one routed row an expert (decode), or 64.
  const params = new Params().u32(a.n).u32(a.k).u32(a.experts).u32(a.inter).u32(a.hidden)
    .u32(expertWorkgroup(gpu, a.n, a.inter)).u32(expertWorkgroup(gpu, a.n, a.hidden));
  // As many invocations as experts, up to the workgroup the adapter synchronises well.
  const wg = Math.max(1, Math.min(gpu.choices.barrierWorkgroup, 2 ** Math.ceil(Math.log2(a.experts))));
  rec.dispatch(gpu.pipeline('moePlan', { WG: wg }), params, [a.idx, a.weight, a.tok, a.rowWeight, a.runs, a.args], 1);
}
