// y[t, :] = w ⊙ x[t, :] / sqrt(mean(x[t, :]²) + eps). Two entry points:
//   rows: an invocation a row (prefill: rows enough to fill the adapter, no barrier);
//   row: a workgroup a row, its invocations on strided channels summed in a tree (decode: one row
//     left to one invocation would run M1's 6144 channels in series on a GPU).
#include "weights.wgsl"
#include "rowSum.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, dim] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, dim] f32

// Σx² of channels c0, c0 + step, … of the row at b.
fn sumSq(b: u32, c0: u32, step: u32) -> f32 {
  var ss = 0.0;
  for (var c = c0; c < p.dim; c += step) { ss += x[b + c] * x[b + c]; }
  return ss;
}

fn normalise(b: u32, c0: u32, step: u32, ss: f32) {
  let inv = 1.0 / sqrt(ss / f32(p.dim) + p.eps);
  for (var c = c0; c < p.dim; c += step) { y[b + c] = unpackW(w[wordOf(c)], c) * (x[b + c] * inv); }
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.n) { return; }
  normalise(t * p.dim, 0u, 1u, sumSq(t * p.dim, 0u, 1u));
}

@compute @workgroup_size(WG)
fn row(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x + wg.y * nwg.x;
  if (t >= p.n) { return; } // the same for the whole workgroup, so the barriers stay uniform
  normalise(t * p.dim, tid, WG, rowSum(sumSq(t * p.dim, tid, WG), tid));
}
