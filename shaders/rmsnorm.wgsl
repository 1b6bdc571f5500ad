// y[t, :] = w ⊙ x[t, :] / sqrt(mean(x[t, :]²) + eps). One invocation per row: no barriers.
#include "weights.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, dim] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, dim] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= p.n) { return; }
  let b = t * p.dim;
  var ss = 0.0;
  for (var c = 0u; c < p.dim; c++) { ss += x[b + c] * x[b + c]; }
  let inv = 1.0 / sqrt(ss / f32(p.dim) + p.eps);
  for (var c = 0u; c < p.dim; c++) { y[b + c] = unpackW(w[wordOf(c)], c) * (x[b + c] * inv); }
}
