// The two entry points of an RMS norm of rows, for shaders whose Params have n, dim and eps, whose rows
// are the binding `x` ([n, dim] f32), and which define finishRow(b, c0, step, inv): the output of
// channels c0, c0 + step, … of the row at x[b], given its inverse RMS.
//   rows: an invocation a row (prefill: rows enough to fill the adapter, no barrier; every row where
//     norms fold into their readers, which sum a row the same way);
//   row: a workgroup a row, its invocations on strided channels, their Σx² parts added in a tree in
//     workgroup memory (decode: one row left to one invocation would run M1's 6144 channels in series
//     on a GPU; CPU adapters fold norms, so they take `rows`). WG is the adapter's barrier workgroup
//     (gpu.ts), a power of two.
override WG: u32 = 256u;
var<workgroup> partSums: array<f32, WG>;
#include "rms.wgsl"

fn rowSum(part: f32, tid: u32) -> f32 {
  partSums[tid] = part;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) { partSums[tid] += partSums[tid + stride]; }
    workgroupBarrier();
  }
  return partSums[0];
}

fn invRms(ss: f32) -> f32 {
  return inverseRms(ss, p.dim, p.eps);
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.n) { return; }
  finishRow(t * p.dim, 0u, 1u, invRms(sumSquares(t * p.dim, 0u, 1u, p.dim)));
}

@compute @workgroup_size(WG)
fn row(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x + wg.y * nwg.x;
  if (t >= p.n) { return; } // the same for the whole workgroup, so the barriers stay uniform
  finishRow(t * p.dim, tid, WG, invRms(rowSum(sumSquares(t * p.dim, tid, WG, p.dim), tid)));
}
