// y[t, :] = w ⊙ x[t, :] / sqrt(mean(x[t, :]²) + eps). A workgroup per row, its invocations on strided
// channels: a decode step's one row is not left to one invocation (a GPU would run 6144 channels in
// series).
#include "weights.wgsl"
#include "rowSum.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, dim] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, dim] f32

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x + wg.y * nwg.x;
  if (t >= p.n) { return; } // the same for the whole workgroup, so the barriers stay uniform
  let b = t * p.dim;
  var ss = 0.0;
  for (var c = tid; c < p.dim; c += WG) { ss += x[b + c] * x[b + c]; }
  let inv = 1.0 / sqrt(rowSum(ss, tid) / f32(p.dim) + p.eps);
  for (var c = tid; c < p.dim; c += WG) { y[b + c] = unpackW(w[wordOf(c)], c) * (x[b + c] * inv); }
}
